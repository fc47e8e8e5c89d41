"""A drawing of the winning architecture: one box per layer group, laid out by Graphviz when it is
installed, else drawn by matplotlib.

Each box shows the feature-map shape after its step when the input shape is known; a residual
skip goes around its block (labelled when it needs a 1x1 projection), and a layer graph
(`search.strategy: graph`) is drawn with its real edges. The drawing is made from the
architecture itself, not from a built Keras model: the flow process never imports TensorFlow
(its candidates train in workers), and importing it only to draw would cost every search seconds.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from nas_core.architecture import InfeasibleArchitecture, repair
from nas_core.graph_space import is_graph
from nas_core.mlp_space import is_mlp
from nas_core.text_space import is_text

COLORS = {"input": "#d5d8dc", "conv": "#aed6f1", "pool": "#f9e79f", "dense": "#abebc6", "output": "#d7bde2"}
BOX_HEIGHT, GAP = 0.8, 0.45


@dataclass(frozen=True)
class Box:
    kind: str
    text: str
    skip: str | None = None  # label of a residual arc around this box


def layer_boxes(arch: Mapping[str, Any], input_shape: Sequence[int] | None, num_classes: int | None) -> list[Box]:
    """The architecture as a column of boxes, top to bottom, with shapes when `input_shape` is known."""
    if is_graph(arch):
        return graph_boxes(arch, num_classes)
    if is_mlp(arch):
        return mlp_boxes(arch, input_shape, num_classes)
    if is_text(arch):
        return text_boxes(arch, input_shape, num_classes)
    if input_shape is not None:
        try:
            arch = repair(arch, input_shape)
        except InfeasibleArchitecture:
            input_shape = None
    shape = list(input_shape) if input_shape is not None else None
    padding, activation = str(arch["padding"]), str(arch["activation"])

    def dims() -> str:
        return f"  →  {'×'.join(map(str, shape))}" if shape else ""

    boxes = [Box("input", f"Input{dims()}")]
    channels_in: int | None = int(shape[-1]) if shape else None
    for i in range(int(arch["conv_blocks"])):
        filters, kernel = int(arch[f"filters_{i}"]), int(arch[f"kernel_{i}"])
        if shape and padding == "valid":
            shape[0], shape[1] = shape[0] - kernel + 1, shape[1] - kernel + 1
        if shape:
            shape[-1] = filters
        norm = " · BatchNorm" if arch["batch_norm"] else ""
        skip = None
        if arch[f"skip_{i}"]:
            skip = "skip + 1×1 proj" if channels_in is not None and channels_in != filters else "skip"
        channels_in = filters
        boxes.append(
            Box("conv", f"Conv {kernel}×{kernel}, {filters} filters ({padding}){norm} · {activation}{dims()}", skip)
        )
        pooling = arch[f"pool_{i}"]
        if pooling != "none":
            if shape:
                shape[0], shape[1] = shape[0] // 2, shape[1] // 2
            boxes.append(Box("pool", f"{'Max' if pooling == 'max' else 'Average'} pool 2×2{dims()}"))
    if shape:
        flat = 1
        for d in shape:
            flat *= int(d)
        boxes.append(Box("dense", f"Flatten  →  {flat}"))
    else:
        boxes.append(Box("dense", "Flatten"))
    dropout = float(arch["dropout"])
    for j in range(int(arch["dense_layers"])):
        extra = f" · dropout {dropout:g}" if dropout else ""
        boxes.append(Box("dense", f"Dense {arch[f'units_{j}']} · {activation}{extra}"))
    if dropout and not int(arch["dense_layers"]):
        boxes.append(Box("dense", f"Dropout {dropout:g}"))
    classes = f"{num_classes} " if num_classes else ""
    boxes.append(Box("output", f"Dense {classes}· softmax"))
    return boxes


def _output(num_classes: int | None) -> Box:
    return Box("output", f"Dense {f'{num_classes} ' if num_classes else ''}· softmax")


def mlp_boxes(arch: Mapping[str, Any], input_shape: Sequence[int] | None, num_classes: int | None) -> list[Box]:
    """A tabular network (`space.kind: mlp`): the encoded columns, its dense layers (a residual skip drawn
    around each layer after the first), the output."""
    width = f"  →  {input_shape[0]} encoded columns" if input_shape else ""
    boxes = [Box("input", f"Input (numbers standardized, categories one-hot){width}")]
    # A canonical architecture lacks the choices that cannot change it (no activation without layers).
    activation, dropout = str(arch.get("activation", "")), float(arch.get("dropout", 0.0))
    previous = int(input_shape[0]) if input_shape else None
    for j in range(int(arch["hidden_layers"])):
        units = int(arch[f"units_{j}"])
        norm = " · BatchNorm" if arch.get("batch_norm") else ""
        extra = f" · dropout {dropout:g}" if dropout else ""
        skip = None
        if arch.get("residual") and j > 0:
            skip = "skip + projection" if previous != units else "skip"
        boxes.append(Box("dense", f"Dense {units}{norm} · {activation}{extra}", skip))
        previous = units
    return [*boxes, _output(num_classes)]


def text_boxes(arch: Mapping[str, Any], input_shape: Sequence[int] | None, num_classes: int | None) -> list[Box]:
    """A text network (`space.kind: text`): token ids, embedding, Conv1D blocks, the optional bidirectional
    recurrent layer and transformer block, the pooling over the sequence, the dense head."""
    length = f"  →  {input_shape[0]} token ids" if input_shape else ""
    activation = str(arch["activation"])
    boxes = [Box("input", f"Input (TextVectorization in the exported model){length}")]
    boxes.append(Box("dense", f"Embedding {arch['vocabulary_size']:,} × {arch['embedding_dim']}"))
    for i in range(int(arch["conv_blocks"])):
        boxes.append(Box("conv", f"Conv1D {arch[f'kernel_{i}']}, {arch[f'filters_{i}']} filters · {activation}"))
    if int(arch["recurrent_layers"]):
        cell = str(arch["recurrent_cell"]).upper()
        boxes.append(Box("dense", f"Bidirectional {cell} {arch['recurrent_units']} (×2)"))
    if int(arch["transformer_blocks"]):
        boxes.append(Box("dense", f"Transformer encoder · {arch['heads']} heads", "skip"))
    boxes.append(Box("pool", f"Global {'max' if arch['pooling'] == 'max' else 'average'} pool"))
    if float(arch["dropout"]):
        boxes.append(Box("dense", f"Dropout {float(arch['dropout']):g}"))
    if int(arch["dense_units"]):
        boxes.append(Box("dense", f"Dense {arch['dense_units']} · {activation}"))
    return [*boxes, _output(num_classes)]


def graph_boxes(arch: Mapping[str, Any], num_classes: int | None) -> list[Box]:
    """A layer graph (`search.strategy: graph`) in node order; a node fed by more than the node
    before it names its inputs (the graph's skip connections)."""
    nodes, edges = list(arch["nodes"]), [tuple(e) for e in arch["edges"]]

    def fed_by(k: int) -> str:
        inputs = sorted(i for i, j in edges if j == k)
        return "" if inputs == [k - 1] else f"  ←  {' + '.join(f'#{i}' for i in inputs)}"

    boxes = [Box("input", "#0 Input")]
    for k, op in enumerate(nodes[1:-1], start=1):
        kind = "conv" if op.startswith("conv") else "pool" if op.endswith("pool") else "dense"
        boxes.append(Box(kind, f"#{k} {op}{fed_by(k)}"))
    classes = f"{num_classes} " if num_classes else ""
    boxes.append(Box("output", f"Global avg pool · Dense {classes}· softmax{fed_by(len(nodes) - 1)}"))
    return boxes


def architecture_figure(
    arch: Mapping[str, Any], input_shape: Sequence[int] | None = None, num_classes: int | None = None, title: str = ""
) -> Figure:
    """Boxes and arrows, top to bottom; a skip is an arc on the left from a block's input to its output."""
    boxes = layer_boxes(arch, input_shape, num_classes)
    step = BOX_HEIGHT + GAP
    height = len(boxes) * step
    figure = Figure(figsize=(6.4, 0.55 * len(boxes) + 0.9), dpi=110)
    axes = figure.subplots()
    axes.set_xlim(0, 10)
    axes.set_ylim(-0.2, height + 0.2)
    axes.axis("off")
    tops = []
    for n, box in enumerate(boxes):
        top = height - n * step
        tops.append(top)
        axes.add_patch(
            FancyBboxPatch(
                (2.0, top - BOX_HEIGHT),
                7.6,
                BOX_HEIGHT,
                boxstyle="round,pad=0.02,rounding_size=0.15",
                facecolor=COLORS[box.kind],
                edgecolor="#566573",
                linewidth=1.0,
            )
        )
        axes.text(5.8, top - BOX_HEIGHT / 2, box.text, ha="center", va="center", fontsize=8)
        if n:
            axes.add_patch(
                FancyArrowPatch(
                    (5.8, tops[n - 1] - BOX_HEIGHT), (5.8, top), arrowstyle="-|>", mutation_scale=10, color="#566573"
                )
            )
        if box.skip:
            start, end = (2.0, top + GAP / 2), (2.0, top - BOX_HEIGHT - GAP / 2)
            axes.add_patch(
                FancyArrowPatch(
                    start,
                    end,
                    connectionstyle="arc3,rad=0.6",
                    arrowstyle="-|>",
                    mutation_scale=10,
                    color="#c0392b",
                    linewidth=1.4,
                )
            )
            axes.text(
                0.05, top - BOX_HEIGHT / 2, box.skip.replace(" + ", "\n+ "), fontsize=7, color="#c0392b", va="center"
            )
    if title:
        axes.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def graphviz_available() -> bool:
    if shutil.which("dot") is None:
        return False
    try:
        import pydot  # noqa: F401
    except ImportError:
        return False
    return True


def graphviz_drawing(
    arch: Mapping[str, Any], input_shape: Sequence[int] | None, num_classes: int | None, title: str = ""
) -> Any:
    """The boxes as a pydot graph, top to bottom. A skip joins its block's input and output at an ⊕;
    a layer graph keeps its own edges."""
    import pydot

    boxes = layer_boxes(arch, input_shape, num_classes)
    font = "DejaVu Sans"  # matplotlib's default font, so both drawers read alike
    graph = pydot.Dot(graph_type="digraph", rankdir="TB", dpi=110, label=title, labelloc="t", fontname=font)
    graph.set_node_defaults(shape="box", style="rounded,filled", color="#566573", fontname=font, fontsize=10)
    graph.set_edge_defaults(color="#566573", arrowsize=0.7, fontname=font, fontsize=9)
    for n, box in enumerate(boxes):
        graph.add_node(pydot.Node(f"n{n}", label=box.text, fillcolor=COLORS[box.kind]))
    if is_graph(arch):
        for i, j in arch["edges"]:
            graph.add_edge(pydot.Edge(f"n{i}", f"n{j}"))
        return graph
    previous = "n0"
    for n, box in enumerate(boxes[1:], start=1):
        graph.add_edge(pydot.Edge(previous, f"n{n}"))
        previous = f"n{n}"
        if box.skip:
            join = f"add{n}"
            graph.add_node(pydot.Node(join, label="+", shape="circle", width=0.25, fixedsize=True, fillcolor="white"))
            graph.add_edge(pydot.Edge(f"n{n}", join))
            graph.add_edge(pydot.Edge(f"n{n - 1}", join, label=box.skip, color="#c0392b", fontcolor="#c0392b"))
            previous = join
    return graph


def draw_architecture(
    arch: Mapping[str, Any],
    path: Path,
    input_shape: Sequence[int] | None,
    num_classes: int | None,
    title: str = "",
    use_graphviz: bool | None = None,
) -> str:
    """Write the drawing to `path` (PNG); returns which drawer made it: "graphviz" or "matplotlib"."""
    if use_graphviz is None:
        use_graphviz = graphviz_available()
    if use_graphviz:
        try:
            graphviz_drawing(arch, input_shape, num_classes, title).write_png(str(path))
            return "graphviz"
        except Exception:  # Graphviz present but broken: matplotlib still draws the same boxes
            pass
    architecture_figure(arch, input_shape, num_classes, title).savefig(path)
    return "matplotlib"
