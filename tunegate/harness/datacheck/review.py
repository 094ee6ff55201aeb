"""A self-contained HTML sheet of seeded random training samples to mark right or wrong.

Practice: review ~100 random training samples; if 5% are wrong, the model will be ~5% wrong the
same way. Every string from the data goes through ``html.escape``; the only script is inline and
pinned by its sha256 in a strict Content-Security-Policy (no network, no other script). The
"export marks as JSON" button downloads ``review-marks.json`` and shows the same JSON in a text
box for copying.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence
from html import escape

from tunegate.harness.datacheck.schema import DataFile, Record

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:16px;color:#1b1b1b}
h1{font-size:20px}.meta{color:#555}.sample{border:1px solid #ccc;border-radius:6px;margin:14px 0;padding:10px}
.sample h2{font-size:14px;margin:0 0 6px}.turn{margin:6px 0}.role{font-weight:600;font-size:12px;
text-transform:uppercase;color:#444}pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;
padding:6px;margin:2px 0;font:13px/1.4 ui-monospace,monospace}.assistant pre{background:#eef6ee}
.marks label{margin-right:14px}.marks input[type=text]{width:60%}.sample.right{border-color:#2e7d32}
.sample.wrong{border-color:#c62828;background:#fff6f6}#bar{position:sticky;top:0;background:#fff;
padding:8px 0;border-bottom:1px solid #ddd}textarea{width:100%;height:120px}
"""

_SCRIPT = """
(function(){
  var samples = Array.prototype.slice.call(document.querySelectorAll('.sample'));
  function marks(){
    return samples.map(function(s){
      var c = s.querySelector('input[type=radio]:checked');
      return {n: +s.dataset.n, path: s.dataset.path, line: +s.dataset.line, id: s.dataset.id || null,
              mark: c ? c.value : null, note: s.querySelector('input[type=text]').value};
    });
  }
  function update(){
    var m = marks(), done = 0, wrong = 0;
    m.forEach(function(x, i){
      samples[i].classList.toggle('right', x.mark === 'right');
      samples[i].classList.toggle('wrong', x.mark === 'wrong');
      if (x.mark) done++; if (x.mark === 'wrong') wrong++;
    });
    document.getElementById('tally').textContent = done + ' of ' + m.length + ' marked, ' + wrong +
      ' wrong' + (done ? ' (' + (100 * wrong / done).toFixed(1) + '% of marked)' : '');
  }
  function exportMarks(){
    var root = document.documentElement.dataset;
    var data = {source: root.source, sha256: root.sha256, seed: +root.seed, marks: marks()};
    var text = JSON.stringify(data, null, 1);
    var box = document.getElementById('json');
    box.value = text; box.hidden = false;
    var a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
    a.download = 'review-marks.json';
    document.body.appendChild(a); a.click(); a.remove();
  }
  document.addEventListener('change', update);
  document.getElementById('export').addEventListener('click', exportMarks);
  update();
  document.documentElement.dataset.ready = '1';
})();
"""


def csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def pick_samples(records: Sequence[Record], n: int, seed: int) -> list[Record]:
    """``n`` records drawn with ``random.Random(seed)`` (not the first n), in file order."""
    if n >= len(records):
        return list(records)
    keep = sorted(random.Random(seed).sample(range(len(records)), n))
    return [records[i] for i in keep]


def _sample_html(k: int, r: Record) -> str:
    turns = "".join(
        f'<div class="turn {escape(m.role)}"><div class="role">{escape(m.role)}</div><pre>{escape(m.content)}</pre></div>'
        for m in r.messages
    )
    name = f"m{k}"
    ident = f" · id {escape(r.id)}" if r.id else ""
    return (
        f'<section class="sample" data-n="{k}" data-path="{escape(r.path)}" data-line="{r.line}" '
        f'data-id="{escape(r.id or "")}"><h2>#{k} · {escape(r.location)}{ident}</h2>{turns}'
        f'<div class="marks"><label><input type="radio" name="{name}" value="right"> right</label>'
        f'<label><input type="radio" name="{name}" value="wrong"> wrong</label>'
        f'<input type="text" placeholder="what is wrong (optional)" aria-label="note for sample {k}"></div></section>'
    )


def render_review(train: DataFile, samples: Sequence[Record], seed: int) -> str:
    body = "".join(_sample_html(k, r) for k, r in enumerate(samples, start=1))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en" data-source="{escape(train.path)}" data-sha256="{train.sha256}" data-seed="{seed}">'
        '<head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp(_SCRIPT))}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Review: {escape(train.path)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Training data review: {escape(train.path)}</h1>"
        f'<p class="meta">{len(samples)} of {len(train.records)} examples, drawn at random with seed {seed} '
        f"(sha256 {train.sha256[:12]}…). Mark each right or wrong: if 5% are wrong, the model will be about 5% "
        "wrong the same way. Marks stay in this page until exported.</p>"
        '<div id="bar"><button type="button" id="export">Export marks as JSON</button> '
        '<span id="tally"></span><textarea id="json" readonly hidden aria-label="exported marks"></textarea></div>'
        f"{body}<script>{_SCRIPT}</script></body></html>\n"
    )
