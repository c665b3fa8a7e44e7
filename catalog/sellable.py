"""The one rule for whether a variant is for sale, used by the cart, the checkout and placement.

A variant is for sale when it, its product and its product's category are active,
and so is every category above that one: switching a category off withdraws
everything filed under it, as the storefront's category tree already hides it.
The rule is a condition of the query that reads the variants (a recursive walk of
the category tree in the database, never the storefront's short-lived cache), so
deciding what can be ordered costs no query of its own.
"""

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now

# Down from the roots through active categories only: neither a child of an inactive
# category nor a cycle (UNION drops rows already seen) is reached.
_VISIBLE_CATEGORIES = """
    WITH RECURSIVE visible(id) AS (
        SELECT id FROM catalog_category WHERE parent_id IS NULL AND is_active
        UNION
        SELECT child.id FROM catalog_category child JOIN visible ON child.parent_id = visible.id
        WHERE child.is_active
    )
    SELECT id FROM visible
"""


def published_q(prefix: str = "") -> Q:
    """Return the condition that the product (at `prefix`, e.g. "product__") is shown: published
    and its publishing time, if it has one, come."""
    return Q(**{f"{prefix}is_active": True}) & (
        Q(**{f"{prefix}publish_at__isnull": True}) | Q(**{f"{prefix}publish_at__lte": Now()})
    )


def sellable_q(variant: str = "") -> Q:
    """Return the condition that the variant (at the path `variant`, "" for Variant itself) is for sale."""
    prefix = f"{variant}__" if variant else ""
    return published_q(f"{prefix}product__") & Q(
        **{
            f"{prefix}is_active": True,
            f"{prefix}product__category_id__in": RawSQL(_VISIBLE_CATEGORIES, []),  # noqa: S611 - constant SQL
        }
    )


def with_sellable(queryset: QuerySet, *, variant: str = "") -> QuerySet:
    """Annotate each row with `is_sellable`: whether its variant (at the path `variant`) is for sale."""
    return queryset.annotate(is_sellable=ExpressionWrapper(sellable_q(variant), output_field=BooleanField()))
