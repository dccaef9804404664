"""The rate-distortion benchmark: the runner (``runner``: nvcodec and x264/x265 points on the same
reference frames, curves, BD-rates, the report and plots), the baselines through PyAV
(``baseline``), the provenance every results JSON carries (``provenance``) and the demo's picture
(``picture``). ``nvcodec.rd.run_benchmark`` and the runner's other public names are here too.
"""
from .runner import (BASELINE_ALIASES, BASELINES, DEFAULT_BASELINES, DEFAULT_QUALITIES, DEFAULT_RATES, Clip,
                     parse_list, report_only, run_benchmark)

__all__ = ["BASELINE_ALIASES", "BASELINES", "DEFAULT_BASELINES", "DEFAULT_QUALITIES", "DEFAULT_RATES", "Clip",
           "parse_list", "report_only", "run_benchmark"]
