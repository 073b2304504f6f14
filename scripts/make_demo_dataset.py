#!/usr/bin/env python3
"""Writes the demo dataset: dates in prose ("March 5, 2021", "5 March 2021") -> ISO 8601 ("2021-03-05").

A rule the base SmolLM2-135M-Instruct does not follow by itself (it answers in prose, or in another format) and
that a LLaMA-Adapter learns in a few hundred steps: the answer is short (10 characters, about 11 tokens with
EOS), exact match is unambiguous, and the held-out split checks that the rule generalises to unseen dates.

Deterministic: the same seed writes the same bytes. Alpaca JSONL, one record per line:
    {"instruction": "Convert the date to ISO format.", "input": "March 5, 2021", "output": "2021-03-05"}

    scripts/make_demo_dataset.py [--seed 20261123] [--train 600] [--eval 50] [--out data/demo]
"""

import argparse
import datetime
import json
import os
import random

INSTRUCTION = "Convert the date to ISO format."
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
FIRST = datetime.date(1950, 1, 1)
LAST = datetime.date(2039, 12, 31)


def phrase(date, style):
    month = MONTHS[date.month - 1]
    if style == 0:
        return f"{month} {date.day}, {date.year}"  # March 5, 2021
    return f"{date.day} {month} {date.year}"  # 5 March 2021


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--eval", type=int, default=50)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "data", "demo"))
    args = parser.parse_args()

    rng = random.Random(args.seed)
    span = (LAST - FIRST).days + 1
    # Distinct dates, so no held-out date appears in training in any phrasing.
    days = rng.sample(range(span), args.train + args.eval)
    records = []
    for i, offset in enumerate(days):
        date = FIRST + datetime.timedelta(days=offset)
        style = rng.randrange(2)
        records.append({"instruction": INSTRUCTION, "input": phrase(date, style), "output": date.isoformat()})
    train, held_out = records[: args.train], records[args.train:]

    os.makedirs(args.out, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("eval.jsonl", held_out)):
        path = os.path.join(args.out, name)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"wrote {len(rows)} records to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
