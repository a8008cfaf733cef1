"""A sample kopf operator: a labelled ConfigMap → a greeting ConfigMap it owns.

Run it with ``kopf run -A -m sample_operator``; test it with pytest-kernel (see tests/).
"""

from sample_operator.operator import CHILD_SUFFIX, SOURCE_LABEL, render

__all__ = ["CHILD_SUFFIX", "SOURCE_LABEL", "render"]
