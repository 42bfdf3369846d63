"""Where a sweep's rows live: an append-only journal while it runs, Parquet
and CSV when it ends.

``DIR/points.jsonl`` gets one JSON line per finished point, flushed at once,
so a sweep that is stopped (Ctrl-C, a lost cluster, a reboot) loses at most
the points in flight; the next run reads the journal and skips every point
it holds. A journal written under other settings (another ``cfo``, another
channel definition ...: :meth:`SweepConfig.settings_sha256`) is refused
rather than mixed in.

``DIR/results.parquet`` and ``DIR/results.csv`` hold the rows of the
config's points in grid order. Both carry the package version and the
config: the Parquet file in its schema metadata (``tokencom.version``,
``tokencom.config``), the CSV file in its ``package_version`` and
``config_sha256`` columns, with the config itself in ``DIR/config.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, List, Sequence

from .. import __version__
from .sweep_config import SweepConfig, SweepPoint

__all__ = ["SweepStore", "read_results", "JOURNAL", "PARQUET", "CSV", "CONFIG_JSON"]

JOURNAL = "points.jsonl"
PARQUET = "results.parquet"
CSV = "results.csv"
CONFIG_JSON = "config.json"


class SweepStore:
    """The results folder of one sweep.

    Parameters
    ----------
    folder : path
        Created if missing.
    config : SweepConfig
    """

    def __init__(self, folder, config: SweepConfig):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.settings = config.settings_sha256()
        self.config_json = json.dumps(config.to_json(), sort_keys=True)
        self.config_sha256 = hashlib.sha256(self.config_json.encode()).hexdigest()
        self.rows: Dict[str, Dict] = {}
        self._read_journal()
        self._journal = open(self.folder / JOURNAL, "a", encoding="utf-8")

    def _read_journal(self) -> None:
        path = self.folder / JOURNAL
        if not path.exists():
            return
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short when the run stopped: that point runs again
                if entry.get("settings_sha256") != self.settings:
                    raise ValueError(f"{path} line {number} was written by a sweep with other settings "
                                     f"(cfo, channels, text or image sources); use another --out folder")
                self.rows[entry["row"]["point_id"]] = entry["row"]

    def pending(self, points: Sequence[SweepPoint]) -> List[SweepPoint]:
        """The points without a row yet, in grid order."""
        return [p for p in points if p.point_id() not in self.rows]

    def add(self, row: Dict) -> None:
        """Record a finished point (journal first, then memory)."""
        self._journal.write(json.dumps({"settings_sha256": self.settings, "row": row}) + "\n")
        self._journal.flush()
        self.rows[row["point_id"]] = row

    def close(self) -> None:
        self._journal.close()

    def write_tables(self) -> Dict[str, Path]:
        """Write Parquet and CSV of the config's points that have rows.

        Returns
        -------
        dict
            ``parquet``, ``csv`` and ``config`` paths.
        """
        import pyarrow as pa
        import pyarrow.csv
        import pyarrow.parquet as pq

        rows = [dict(self.rows[p.point_id()], package_version=__version__, config_sha256=self.config_sha256)
                for p in self.config.points() if p.point_id() in self.rows]
        # from_pylist takes its columns from the first row: text and image
        # rows have different fields, so give every row the union of them.
        columns = list(dict.fromkeys(k for row in rows for k in row))
        table = pa.Table.from_pylist([{k: row.get(k) for k in columns} for row in rows])
        table = table.replace_schema_metadata({"tokencom.version": __version__,
                                               "tokencom.config": self.config_json})
        paths = {"parquet": self.folder / PARQUET, "csv": self.folder / CSV,
                 "config": self.folder / CONFIG_JSON}
        pq.write_table(table, paths["parquet"])
        pyarrow.csv.write_csv(table, paths["csv"])
        paths["config"].write_text(json.dumps(self.config.to_json(), indent=1, sort_keys=True) + "\n")
        return paths


def read_results(path) -> tuple:
    """Rows and metadata of a sweep's Parquet file (or of the folder holding it).

    Returns
    -------
    (list of dict, dict)
        The rows, and ``{"version": ..., "config": {...}}`` from the file.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_dir():
        path = path / PARQUET
    if not path.exists():
        raise ValueError(f"{path}: no such results file (run `tokencom sweep` first)")
    table = pq.read_table(path)
    metadata = table.schema.metadata or {}
    config = metadata.get(b"tokencom.config")
    return table.to_pylist(), {"version": metadata.get(b"tokencom.version", b"").decode(),
                               "config": json.loads(config) if config else {}}
