"""What each chapter computes and says, so that its notebook holds only parameters, calls, figures and prose.

One module per chapter (`data`, `generators`, `utility`, `memorisation`, `readers`, `summary`) and one for
the three benchmark chapters (`benchmark`). Functions here return tables, figures' inputs and Markdown
sentences built from computed numbers; decisions such as "beats chance" take the chapter's `alpha`.
"""

from synthmed.chapters.benchmark import SETTING_NAMES, BenchmarkChapter, benchmark_chapter

__all__ = ["SETTING_NAMES", "BenchmarkChapter", "benchmark_chapter"]
