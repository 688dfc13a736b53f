"""Imported by the render pool's fork server: one tiny nbconvert run, so every worker forked from it starts
with nbconvert's lazily imported exporter, markdown and template machinery already loaded (≈ 0.6 s each)."""

import nbformat
from nbconvert import HTMLExporter

_nb = nbformat.v4.new_notebook()
_nb.cells = [nbformat.v4.new_markdown_cell("# warm-up"), nbformat.v4.new_code_cell("1")]
HTMLExporter(template_name="basic", exclude_input=True).from_notebook_node(_nb)
