"""Gene-structure decoding: per-nucleotide evidence to transcripts (HMM and threshold)."""
