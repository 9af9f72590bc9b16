"""The in-memory DuckDB database that keeps, per version of a local warehouse, what FinMatch derives from it."""

import threading
from collections import OrderedDict
from contextlib import contextmanager

# Answers a local store keeps per warehouse version (each is small: sums per day of one choice of filters).
KEPT_ANSWERS = 64


class LocalStore:
    """The in-memory DuckDB database of one version of a local warehouse, and the tables derived from it.

    Each query runs on a cursor of its own, so that a derived table can be built in the background
    while the page's other queries run. The warehouse is attached while any query or build runs.
    """

    _stores = {}  # warehouse path -> its store; a new version replaces the old one
    _guard = threading.Lock()

    def __init__(self, path, version):
        import duckdb

        self.path, self.version = path, version
        # Row order is never relied on (every ordered answer says ORDER BY), so DuckDB need not keep it.
        self.connection = duckdb.connect(config={"preserve_insertion_order": False})
        self.lock = threading.Lock()  # guards the attachment count and the table book-keeping
        self.users = 0
        self.tables = {}  # name -> threading.Event, set once the table exists
        self.failures = {}  # name -> the error that stopped its build
        self.answers = OrderedDict()  # key -> an answer kept for this version (remembered), least recent first

    @classmethod
    def for_version(cls, path, version):
        with cls._guard:
            store = cls._stores.get(str(path))
            if store is None or store.version != version:
                if store is not None:
                    store.close()
                store = cls._stores[str(path)] = cls(path, version)
            return store

    @classmethod
    def forget_all(cls):
        """Drops every derived table (Reload data; a benchmark's first load)."""
        with cls._guard:
            for store in cls._stores.values():
                store.close()
            cls._stores.clear()

    @contextmanager
    def attached(self):
        """A cursor with the warehouse attached as `warehouse`; detached when the last user leaves."""
        with self.lock:
            if self.users == 0:
                quoted = str(self.path).replace("'", "''")
                self.connection.execute(f"ATTACH '{quoted}' AS warehouse (READ_ONLY)")
            self.users += 1
        cursor = self.connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
            with self.lock:
                self.users -= 1
                if self.users == 0:
                    self.connection.execute("DETACH warehouse")

    def materialised(self, name, sql, params):
        """The table `name` holding the result of `sql`, built now unless built or being built already."""
        with self.lock:
            done = self.tables.get(name)
            building = done is None
            if building:
                done = self.tables[name] = threading.Event()
        if building:
            self._build(name, sql, params, done)
        done.wait()
        if name in self.failures:
            raise self.failures[name]
        return name

    def remembered(self, key, compute):
        """The answer kept under `key`, computed now if there is none (at most KEPT_ANSWERS, the least recent go)."""
        with self.lock:
            if key in self.answers:
                self.answers.move_to_end(key)
                return self.answers[key]
        answer = compute()
        with self.lock:
            self.answers[key] = answer
            while len(self.answers) > KEPT_ANSWERS:
                self.answers.popitem(last=False)
        return answer

    def prefetch(self, builds):
        """Starts building tables in the background, one after the other, so that the page's other queries run
        meanwhile. `builds` are (name, SQL, parameters), each reading only the warehouse or tables before it."""
        pending = []
        with self.lock:
            for name, sql, params in builds:
                if name not in self.tables:
                    pending.append((name, sql, params, self.tables.setdefault(name, threading.Event())))
        if pending:
            threading.Thread(target=self._build_all, args=(pending,), daemon=True).start()

    def _build_all(self, pending):
        for build in pending:
            self._build(*build)

    def _build(self, name, sql, params, done):
        try:
            with self.attached() as cursor:
                cursor.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}", list(params))
        except Exception as error:  # the page that reads it says so
            self.failures[name] = error
        finally:
            done.set()

    def close(self):
        self.connection.close()
