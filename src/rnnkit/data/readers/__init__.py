"""Readers: files to records, with errors that say what was found and what was expected."""

from .conll import TaggedSentence, read_conll
from .labelled import LabelledText, detect_format, read_labelled, read_texts
from .parallel import SentencePair, parallel_paths, read_pairs, read_parallel, read_tsv_pairs
from .sequences import SequenceRecord, read_fasta, read_sequences
from .text import read_lines, read_text
from .timeseries import TimeSeries, read_timeseries

__all__ = ["LabelledText", "SentencePair", "TimeSeries", "detect_format", "parallel_paths", "read_labelled",
           "read_lines", "read_pairs", "read_parallel", "read_text", "read_texts", "read_timeseries", "read_tsv_pairs"]
__all__ += ["TaggedSentence", "read_conll"]
__all__ += ["SequenceRecord", "read_fasta", "read_sequences"]
