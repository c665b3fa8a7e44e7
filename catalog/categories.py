"""The category tree: visible categories, their parents and what lies below them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class CategoryNode:
    id: int
    name: str
    slug: str
    description: str
    parent_id: int | None
    children: list[CategoryNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"/category/{self.slug}/"


@dataclass(frozen=True)
class CategoryTree:
    """The visible categories: active ones whose every ancestor is active too."""

    roots: list[CategoryNode]
    by_id: dict[int, CategoryNode]
    by_slug: dict[str, CategoryNode]

    def ancestors(self, node: CategoryNode) -> list[CategoryNode]:
        """Return the chain from the root down to `node`'s parent."""
        chain: list[CategoryNode] = []
        parent_id = node.parent_id
        while parent_id is not None and parent_id in self.by_id:
            parent = self.by_id[parent_id]
            chain.append(parent)
            parent_id = parent.parent_id
        return list(reversed(chain))

    def descendant_ids(self, node: CategoryNode) -> list[int]:
        """Return the ids of `node` and every category below it."""
        return [current.id for current in subtree([node])]

    @property
    def visible_ids(self) -> list[int]:
        return list(self.by_id)


def subtree(nodes: list[CategoryNode]) -> Iterator[CategoryNode]:
    """Yield `nodes` and every node below them."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def category_tree_build(rows: list[tuple[int, str, str, str, int | None]]) -> CategoryTree:
    """Return the visible tree of the categories in `rows` (id, name, slug, description, parent id)."""
    nodes = {row[0]: CategoryNode(*row) for row in rows}
    roots: list[CategoryNode] = []
    for node in nodes.values():
        if node.parent_id is None:
            roots.append(node)
        elif node.parent_id in nodes:
            nodes[node.parent_id].children.append(node)
    # Keep only nodes reachable from a root: a child of an inactive parent is hidden.
    visible = {node.id: node for node in subtree(roots)}
    return CategoryTree(roots=roots, by_id=visible, by_slug={node.slug: node for node in visible.values()})
