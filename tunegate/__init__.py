"""tunegate: evaluation and regression gates for fine-tuned LLMs (base vs adapter, paired statistics,
inside pytest).

The library lives in four subpackages: ``tunegate.harness`` (data, backends, metrics, statistics,
gates and the pytest plugin), ``tunegate.judges`` (LLM-as-judge), ``tunegate.trainers`` (the QLoRA
trainer) and ``tunegate.reports`` (results.json -> HTML / Markdown).
"""
