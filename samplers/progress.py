"""Progress bars for long operations (sampling, tempering, AIS, training epochs), by tqdm.

``progress=None`` (the default everywhere) shows a bar only when stderr is a terminal;
``progress=True`` always shows one (``tqdm.auto``: a widget in Jupyter notebooks, text
elsewhere), with rate and ETA; ``progress=False`` never does.

Examples
--------
>>> from samplers.progress import Progress
>>> with Progress(100, False, "sampling", unit="sweep") as bar:
...     bar.update(100)
>>> bar.done
100
"""

import sys

__all__ = ["Progress", "wanted"]


def wanted(progress):
    """Whether a bar is shown for the ``progress`` argument (None: only on a terminal)."""
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


class Progress:
    """A tqdm bar of ``total`` units that is silent (and costs nothing) when not wanted.

    Parameters
    ----------
    total : int
    progress : bool or None
        See :func:`wanted`.
    desc : str
        Label shown before the bar (change it per phase with ``update(k, desc)``).
    unit : str
    """

    def __init__(self, total, progress, desc, unit="it"):
        self.total, self.done, self.desc = int(total), 0, desc
        self.bar = None
        if self.total > 0 and wanted(progress):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=desc, unit=unit, mininterval=0.2, dynamic_ncols=True,
                            file=sys.stderr)

    @property
    def enabled(self):
        return self.bar is not None

    def update(self, k, desc=None, **postfix):
        """Advance by ``k`` units; optionally relabel the bar and show ``postfix`` values."""
        self.done += k
        if self.bar is not None:
            if desc is not None and desc != self.desc:
                self.desc = desc
                self.bar.set_description(desc, refresh=False)
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(k)

    def note(self, **values):
        """Show ``values`` after the bar (e.g. the last epoch's loss)."""
        if self.bar is not None:
            self.bar.set_postfix(values, refresh=False)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
