"""The fulfilment centre (``fulfillgym/FulfillmentCenter-v0``): tuned heuristics and the task."""
