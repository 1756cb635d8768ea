"""The chapter's live plots (`d2l.Animator`): lines drawn point by point in a
Jupyter notebook; elsewhere the points are only recorded."""
import sys

__all__ = ['Animator', 'in_notebook']


def in_notebook():
    """Whether this code runs in a Jupyter kernel (where figures can be shown)."""
    ipython = sys.modules.get('IPython')
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == 'ZMQInteractiveShell'


class Animator:
    """Lines of points added one x at a time (`add(x, [y1, y2, ...])`, None for
    a line without a point there), redrawn in the notebook after each `add`."""

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 figsize=(3.5, 2.5)):
        self.xlabel, self.ylabel, self.legend = xlabel, ylabel, list(legend or [])
        self.xlim, self.ylim, self.figsize = xlim, ylim, figsize
        self.X, self.Y = None, None
        self.fig = None

    def add(self, x, y, draw=True):
        """Add the points `(x, y[i])` to line i; `draw`: show the figure now."""
        ys = list(y) if hasattr(y, '__len__') else [y]
        if self.X is None:
            self.X, self.Y = [[] for _ in ys], [[] for _ in ys]
        for i, value in enumerate(ys):
            if x is not None and value is not None:
                self.X[i].append(x)
                self.Y[i].append(value)
        if draw and in_notebook():
            self.show()

    def draw(self):
        """The figure of the lines so far (matplotlib)."""
        import matplotlib.pyplot as plt
        if self.fig is None:
            self.fig, self.axes = plt.subplots(figsize=self.figsize)
            plt.close(self.fig)         # shown by `show`, not by the notebook's backend
        ax = self.axes
        ax.cla()
        for xs, ys in zip(self.X or [], self.Y or []):
            ax.plot(xs, ys)
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        if self.xlim:
            ax.set_xlim(self.xlim)
        if self.ylim:
            ax.set_ylim(self.ylim)
        if self.legend:
            ax.legend(self.legend)
        ax.grid(True)
        return self.fig

    def show(self):
        """Show the figure in the notebook, in place of the previous one."""
        from IPython import display
        display.display(self.draw())
        display.clear_output(wait=True)
