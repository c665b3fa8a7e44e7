"""The VAT receipt as a PDF (fpdf2): the same rows as the receipt page, on an A4 page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.utils import formats, timezone
from fpdf import FPDF, FontFace
from fpdf.errors import FPDFUnicodeEncodingException

from checkout.receipts import Receipt

FONT_DIR = settings.BASE_DIR / "static" / "fonts"
# Typographic characters with plain equivalents in latin-1, so that most receipts print in a
# core font (nothing embedded, the text kept as written); anything else embeds DejaVu Sans.
_PLAIN = str.maketrans(
    {
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": ",",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2026": "...",
        "\u2022": "-",
        "\u2009": " ",
        "\u202f": " ",
    }
)
_TABLE_WIDTHS = (62, 12, 22, 22, 18, 22, 22)
_DISCOUNT_WIDTHS = (48, 10, 22, 20, 20, 18, 20, 22)
_RIGHT = "RIGHT"


def _plain(text: str) -> str:
    return text.translate(_PLAIN)


def _date(value: datetime) -> str:
    return formats.date_format(timezone.localtime(value), "j F Y")


class _ReceiptPDF(FPDF):
    def __init__(self, *, unicode: bool) -> None:
        super().__init__(format="A4")
        self.font_name = "Helvetica"
        if unicode:
            self.add_font("DejaVu", "", FONT_DIR / "DejaVuSans.ttf")
            self.add_font("DejaVu", "B", FONT_DIR / "DejaVuSans-Bold.ttf")
            self.font_name = "DejaVu"
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=15)
        self.add_page()

    def text_line(self, text: str, *, size: float = 10, bold: bool = False, height: float = 5) -> None:
        self.set_font(self.font_name, "B" if bold else "", size)
        self.multi_cell(0, height, _plain(text), new_x="LMARGIN", new_y="NEXT")

    def grid(
        self,
        rows: Sequence[Sequence[str | tuple[str, int]]],
        widths: Sequence[int],
        *,
        bold_last: bool = False,
    ) -> None:
        """Draw a table: the first row its headings, the first column left and the rest right; a
        cell given as (text, n) spans n columns."""
        self.set_font(self.font_name, "", 9)
        aligns = ("LEFT",) + (_RIGHT,) * (len(widths) - 1)
        with self.table(
            col_widths=widths,
            width=sum(widths),
            align="LEFT",
            text_align=aligns,
            borders_layout="HORIZONTAL_LINES",
            line_height=5,
            padding=1.2,
        ) as table:
            for index, cells in enumerate(rows):
                style = FontFace(emphasis="BOLD") if bold_last and index == len(rows) - 1 else None
                row = table.row()
                for cell in cells:
                    text, span = cell if isinstance(cell, tuple) else (cell, 1)
                    row.cell(_plain(text), style=style, colspan=span)
        self.ln(4)


def _head(pdf: _ReceiptPDF, receipt: Receipt) -> None:
    pdf.text_line("VAT receipt", size=18, bold=True, height=9)
    pdf.text_line(receipt.seller.legal_name, bold=True)
    for line in receipt.seller.address_lines:
        pdf.text_line(line)
    pdf.text_line(f"{receipt.tax_name} number: {receipt.seller.vat_number}")
    pdf.ln(4)
    pdf.text_line(f"Receipt number: {receipt.number}", bold=True)
    pdf.text_line(f"{receipt.date_label}: {_date(receipt.date)}")
    pdf.ln(4)
    pdf.text_line("Sold to", bold=True)
    for line in (receipt.buyer_name, *receipt.buyer_address):
        pdf.text_line(line)
    pdf.ln(4)


def _lines_table(pdf: _ReceiptPDF, receipt: Receipt) -> None:
    money, tax = receipt.money, receipt.tax_name
    unit = f"Unit price{' (gross)' if receipt.prices_include_tax else ' (net)'}"
    # A discount gets its own column (left out when there is none, as on the receipt page).
    heading = ["Discount"] if receipt.has_discount else []
    rows: list[list[str | tuple[str, int]]] = [
        ["Item", "Qty", unit, *heading, "Net", f"{tax} rate", tax, "Gross"]
    ]
    for row in receipt.rows:
        off = [f"-{money(row.discount)}" if row.discount else "-"] if receipt.has_discount else []
        sku = f" - {row.sku}" if row.sku else ""
        rows.append(
            [
                f"{row.description}{sku}",
                str(row.quantity),
                money(row.unit_price),
                *off,
                money(row.net),
                row.rate_text or "-",
                money(row.tax),
                money(row.gross),
            ]
        )
    blank = [""] if receipt.has_discount else []
    for code in receipt.shown.codes:
        rows.append([(f"Discount: {code.label}", 3), f"-{money(code.amount)}", "", "", "", ""])
    rows.append(
        [
            "Total",
            "",
            "",
            *blank,
            money(receipt.net_total),
            "",
            money(receipt.tax_total),
            money(receipt.total),
        ]
    )
    pdf.grid(rows, _DISCOUNT_WIDTHS if receipt.has_discount else _TABLE_WIDTHS, bold_last=True)


def _rates_table(pdf: _ReceiptPDF, receipt: Receipt) -> None:
    money = receipt.money
    pdf.text_line(f"{receipt.tax_name} by rate", size=11, bold=True, height=6)
    rows = [["Rate", "Net", receipt.tax_name, "Gross"]]
    rows += [
        [band.rate_text or "-", money(band.net), money(band.tax), money(band.gross)] for band in receipt.rates
    ]
    rows.append(["Total", money(receipt.net_total), money(receipt.tax_total), money(receipt.total)])
    pdf.grid(rows, (40, 30, 30, 30), bold_last=True)


def _refunds_table(pdf: _ReceiptPDF, receipt: Receipt) -> None:
    money, tax = receipt.money, receipt.tax_name
    pdf.text_line("Refunds", size=11, bold=True, height=6)
    rows = [["Date", "Amount", f"of which {tax}"]]
    rows += [
        [_date(refund.date), f"-{money(refund.amount)}", money(refund.tax)] for refund in receipt.refunds
    ]
    rows.append(["Total after refunds", money(receipt.total_after_refunds), money(receipt.tax_after_refunds)])
    pdf.grid(rows, (50, 30, 30), bold_last=True)


def _draw(receipt: Receipt, *, unicode: bool) -> bytes:
    pdf = _ReceiptPDF(unicode=unicode)
    pdf.set_title(f"VAT receipt {receipt.number}")
    pdf.set_author(receipt.seller.legal_name)
    pdf.set_creation_date(receipt.date)
    _head(pdf, receipt)
    _lines_table(pdf, receipt)
    _rates_table(pdf, receipt)
    pdf.text_line(f"Total {'paid' if receipt.is_paid else 'due'}: {receipt.money(receipt.total)}", bold=True)
    if receipt.is_paid:
        pdf.text_line("Paid by card")
    pdf.ln(4)
    if receipt.refunds:
        _refunds_table(pdf, receipt)
    return bytes(pdf.output())


def receipt_pdf(*, receipt: Receipt) -> bytes:
    """Return the receipt as a PDF (CPU work: call it from a thread in async code)."""
    try:
        return _draw(receipt, unicode=False)
    except FPDFUnicodeEncodingException:
        # A name or a currency sign outside latin-1: draw it again with a font that has it.
        return _draw(receipt, unicode=True)
