"""The run page's charts: loss per step with each epoch's mean as a dot, and the learning rate; several runs'
losses on one chart."""
from core.charts.lines import line_chart, multi_line_chart


def epoch_ends(steps, epochs):
    """{epoch: the last step seen in it}, from the per-step series."""
    ends = {}
    for step, epoch in zip(steps, epochs):
        if step is not None and epoch is not None:
            ends[epoch] = step
    return ends


def loss_chart(metrics):
    """Loss per step, with each epoch's mean loss as a dot at the step that ended it."""
    steps, epochs = metrics.get("step", []), metrics.get("epoch", [])
    ends = epoch_ends(steps, epochs)
    markers = [(ends[epoch], loss, f"epoch {epoch}: mean loss {loss:.4f}")
               for epoch, loss in enumerate(metrics.get("epoch_loss", []), 1) if epoch in ends and loss is not None]
    return line_chart(steps, metrics.get("loss", []), markers=markers, y_format="{:.3f}")


def lr_chart(metrics):
    return line_chart(metrics.get("step", []), metrics.get("lr", []), y_format="{:.1e}")


def compare_chart(runs):
    """Each run's loss per step, on the same axes (legend: the run's title)."""
    return multi_line_chart([(run.title, (run.metrics or {}).get("step", []), (run.metrics or {}).get("loss", []))
                             for run in runs], y_format="{:.3f}")
