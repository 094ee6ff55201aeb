from tunegate.trainers.cli import main

raise SystemExit(main())
