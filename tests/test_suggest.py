"""`crosswalk profile suggest FILE` drafts a profile from headers and sample values: a draft that
loads, recognises the file it came from, and says what it could not map."""

from pathlib import Path

import yaml

from connectors.files import discover_tables
from connectors.profiles import load_entities, load_profile
from pipelines.cli import main

EXPORTS = Path(__file__).parent / "fixtures" / "exports"

UNKNOWN = (
    "Order No;E-mail;Order Date;Total (EUR);Qty;Payment;Comment\n"
    "A-7001;anna@beispiel.de;31.03.2025 14:05;1.234,50;2;Invoice;ring twice\n"
    "A-7002;ben@beispiel.de;01.04.2025 09:30;19,90;1;PayPal;\n"
)


def test_draft_for_an_unknown_export_names_what_it_mapped_and_what_not(tmp_path, capsys):
    path = tmp_path / "shop_export.csv"
    path.write_text(UNKNOWN, encoding="cp1252")
    assert main(["profile", "suggest", str(path)]) == 0
    draft = capsys.readouterr().out
    assert "# Read as: encoding 'utf-8', delimiter ';', header_row 1" in draft
    doc = yaml.safe_load(draft)
    assert doc["entity"] == "crm_sales_orders"
    assert doc["formats"] == {"timestamp": "%d.%m.%Y %H:%M", "money": {"decimal": ",", "thousands": "."}}
    assert doc["columns"] == {"ordered_at": "Order Date", "email": "E-mail", "quantity": "Qty",
                              "order_ref": "Order No", "amount": "Total (EUR)"}
    assert "#   email: the header resembles 'email' (91%); values are email addresses" in draft
    assert "#   'Comment': values are text" in draft
    # no column holds an order status: said so, not guessed
    assert "# NOT READY: the required field(s) status could not be mapped." in draft


def test_a_draft_for_a_known_tool_loads_and_recognises_its_file(tmp_path):
    source = EXPORTS / "wc-order-export-2025-03-01.csv"
    out = tmp_path / "draft.yaml"
    assert main(["profile", "suggest", str(source), "--out", str(out)]) == 0
    profile = load_profile(out, load_entities())
    assert profile.entity.name == "crm_sales_orders"
    assert {f: c.header for f, c in profile.columns.items()} == {
        "ordered_at": "order_date", "amount": "order_total", "email": "customer_email", "order_ref": "order_number",
        "status": "status", "currency": "order_currency"}
    assert profile.columns["status"].values == {"cancelled": "cancelled", "completed": "open"}
    assert profile.formats == {"timestamp": "%m/%d/%Y %H:%M:%S"}
    [table] = discover_tables(source, (profile,))
    assert table.profile is profile


def test_a_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["profile", "suggest", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err
