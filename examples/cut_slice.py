"""Cut a region of a genome and its GTF into a small self-contained example pair.

    python examples/cut_slice.py GENOME.fa.gz ANNOTATION.gtf.gz chr21:34600001-35100000 OUT_PREFIX

Writes OUT_PREFIX.fa.gz (bgzip, one record named ``<seqid>_<start>_<end>``) and OUT_PREFIX.gtf:
the annotation's rows of every transcript lying wholly inside the region, unchanged except for
the sequence name and coordinates shifted to the slice (1-based). Transcripts that cross the
region's edges are left out whole.
"""

from __future__ import annotations

import gzip
import re
import sys
from collections import defaultdict

import pysam


def main(genome: str, annotation: str, region: str, prefix: str) -> None:
    match = re.fullmatch(r"(.+):(\d+)-(\d+)", region.replace(",", ""))
    seqid, start_text, end_text = match.groups()
    start, end = int(start_text), int(end_text)
    name = f"{seqid}_{start}_{end}"
    with pysam.FastaFile(genome) as fasta:
        sequence = fasta.fetch(seqid, start - 1, end)
    with pysam.BGZFile(f"{prefix}.fa.gz", "wb") as out:
        lines = [sequence[i : i + 60] for i in range(0, len(sequence), 60)]
        out.write((f">{name}\n" + "\n".join(lines) + "\n").encode("ascii"))

    rows: dict[str, list[list[str]]] = defaultdict(list)
    with gzip.open(annotation, "rt") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if line.startswith("#") or len(fields) != 9 or fields[0] != seqid:
                continue
            transcript = re.search(r'transcript_id "([^"]+)"', fields[8])
            if transcript:
                rows[transcript.group(1)].append(fields)
    kept = 0
    with open(f"{prefix}.gtf", "w", encoding="ascii") as out:
        for fields_list in rows.values():
            lo = min(int(f[3]) for f in fields_list)
            hi = max(int(f[4]) for f in fields_list)
            if lo < start or hi > end:
                continue
            kept += 1
            for fields in fields_list:
                shifted = [name, fields[1], fields[2], str(int(fields[3]) - start + 1)]
                shifted += [str(int(fields[4]) - start + 1), *fields[5:]]
                out.write("\t".join(shifted) + "\n")
    print(f"{name}: {len(sequence)} bp, {kept} transcripts", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
