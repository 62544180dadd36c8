#!/usr/bin/env python3
"""Side-by-side quality and speed of the offline Python peers on the same corpus files as
`warden eval`: Presidio in regex-only mode (its pattern recognizers, no spaCy model) for PII,
and detect-secrets (all default plugins) for secrets. Same scoring as `warden eval`:
PII span overlap per type, secrets per record. Run through scripts/bench.sh detect.

  python3 scripts/peers-eval.py PII_FILE SECRETS_FILE
"""
import json
import sys
import time

PII_TYPES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS"]


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def offline_tldextract():
    """Presidio's e-mail check uses tldextract, which fetches the public suffix list from the
    network by default; use the snapshot it ships instead (nothing is downloaded at run time)."""
    import tldextract
    import tldextract.tldextract as t
    t.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def presidio(path):
    offline_tldextract()
    from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer, IbanRecognizer,
                                                          IpRecognizer, PhoneRecognizer, UsSsnRecognizer)
    recognizers = [EmailRecognizer(), PhoneRecognizer(), CreditCardRecognizer(), IbanRecognizer(), UsSsnRecognizer(),
                   IpRecognizer()]
    rows = [json.loads(line) for line in open(path)]
    found, nbytes = [], 0
    for r in rows[:200]:  # warm-up, untimed
        for rec in recognizers:
            rec.analyze(r["text"], entities=rec.supported_entities, nlp_artifacts=None)
    start = time.perf_counter()
    for r in rows:
        nbytes += len(r["text"].encode())
        res = []
        for rec in recognizers:
            res.extend(rec.analyze(r["text"], entities=rec.supported_entities, nlp_artifacts=None) or [])
        found.append(res)
    secs = time.perf_counter() - start
    per = {t: [0, 0, 0] for t in PII_TYPES}
    for r, res in zip(rows, found):
        for t in PII_TYPES:
            gold = [(s["start"], s["end"]) for s in r["spans"] if s["type"] == t]
            pred = [(x.start, x.end) for x in res if x.entity_type == t]
            per[t][0] += sum(1 for g in gold if any(a < g[1] and b > g[0] for a, b in pred))
            per[t][2] += sum(1 for g in gold if not any(a < g[1] and b > g[0] for a, b in pred))
            per[t][1] += sum(1 for a, b in pred if not any(a < g[1] and b > g[0] for g in gold))
    tot = [sum(v[i] for v in per.values()) for i in range(3)]
    p, r, f = prf(*tot)
    print(f"presidio (regex-only) on {path.split('/')[-1]}: P {p:.3f} R {r:.3f} F1 {f:.3f}  {nbytes / 1e6 / secs:.2f} MB/s")
    for t, (tp, fp, fn) in per.items():
        p, r, f = prf(tp, fp, fn)
        print(f"  {t:<16} tp {tp:>4} fp {fp:>4} fn {fn:>4}  P {p:.3f} R {r:.3f} F1 {f:.3f}")


def detect_secrets(path):
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings
    rows = [json.loads(line) for line in open(path)]
    tp = fp = fn = 0
    nbytes = 0
    with default_settings():
        for r in rows[:200]:  # warm-up, untimed
            for line in r["text"].splitlines():
                list(scan_line(line))
        start = time.perf_counter()
        hits = []
        for r in rows:
            nbytes += len(r["text"].encode())
            hits.append(any(True for line in r["text"].splitlines() for _ in scan_line(line)))
        secs = time.perf_counter() - start
    for r, hit in zip(rows, hits):
        if r["label"] == "secret":
            tp += hit
            fn += not hit
        else:
            fp += hit
    p, rc, f = prf(tp, fp, fn)
    print(f"detect-secrets on {path.split('/')[-1]}: P {p:.3f} R {rc:.3f} F1 {f:.3f} (tp {tp} fp {fp} fn {fn})  {nbytes / 1e6 / secs:.2f} MB/s")


presidio(sys.argv[1])
detect_secrets(sys.argv[2])
