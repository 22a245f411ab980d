"""Load for bench/http_scrape.sh, standard library only.

  python3 bench/scrape_load.py seed PORT EXPOSURES
      posts EXPOSURES exposures (3 catalog items each) with a click for every fifth user to
      recsys_v2_hybrid through POST /v1/events, in batches of 5,000, so that the report has
      aggregates, counters and a history to read.
  python3 bench/scrape_load.py scrape PORT SECONDS PATH...
      one client on one keep-alive connection requesting each PATH in turn, in a loop, for
      SECONDS; prints "requests N max_ms M non200 K".
"""
import http.client
import json
import os
import sys
import time

# The API key bench/lib.sh made for the run (serve, read): sent with every request.
AUTH = {"Authorization": f"Bearer {os.environ['ABREC_KEY']}"} if os.environ.get("ABREC_KEY") else {}


def seed(port, n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    products = ["pet", "gadget", "roadside", "funeral", "umbrella", "travel_single"]
    sent = 0
    while sent < n:
        events = []
        for i in range(sent, min(n, sent + 5000)):
            user = f"seed-{i}"
            events.append({"event_id": f"seed-x-{i}", "type": "exposure", "user_id": user,
                           "experiment": "recsys_v2_hybrid",
                           "items": [{"product_id": products[(i + k) % len(products)],
                                      "position": k + 1} for k in range(3)]})
            if i % 5 == 0:
                events.append({"event_id": f"seed-c-{i}", "type": "click", "user_id": user,
                               "product_id": "pet", "position": 1})
        body = json.dumps({"events": events})
        conn.request("POST", "/v1/events", body=body,
                     headers={"Content-Type": "application/json", **AUTH})
        resp = conn.getresponse()
        doc = json.loads(resp.read())
        if resp.status != 202:
            sys.exit(f"seed: POST /v1/events answered {resp.status}: {doc}")
        # Users the experiment does not enroll are rejected: that is expected.
        sent += 5000
    print(f"seeded {n} exposures")


def scrape(port, seconds, paths):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    stop = time.monotonic() + seconds
    n = non200 = 0
    worst = 0.0
    while time.monotonic() < stop:
        for path in paths:
            start = time.monotonic()
            conn.request("GET", path, headers=AUTH)
            resp = conn.getresponse()
            resp.read()
            worst = max(worst, time.monotonic() - start)
            n += 1
            non200 += resp.status != 200
    print(f"requests {n} max_ms {worst * 1000:.1f} non200 {non200}")


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        seed(int(sys.argv[2]), int(sys.argv[3]))
    else:
        scrape(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
