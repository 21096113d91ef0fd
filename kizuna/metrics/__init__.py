"""Metrics of a node, in Prometheus' text format on `metrics.prometheus_port`.

Two modules, so that importing the rules does not import the exporter:

- custom.py   server modules' own metrics (`nk.metrics_counter_add`, `metrics_gauge_set`,
              `metrics_timer_record`): the naming rules and bounds, checked the same way whether
              metrics are exported or not, and the hand-off to the exporter when they are;
- node.py     `NodeMetrics`, the exporter (prometheus-client): the node's instruments, the
              gauges read when Prometheus scrapes, and the HTTP listener. Built only when
              `metrics.prometheus_port` is set; with it unset nothing of this runs and the hot
              paths test one `None`.
"""
