package daemon

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/minikubelet/minikubelet/internal/status"
)

// podCollector reports the store's pods at scrape time, so the numbers are
// never stale and nothing has to keep counters in step with the workers.
type podCollector struct {
	store    *status.Store
	healthy  func() error
	pods     *prometheus.Desc
	restarts *prometheus.Desc
	up       *prometheus.Desc
}

func (c *podCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pods
	ch <- c.restarts
	ch <- c.up
}

func (c *podCollector) Collect(ch chan<- prometheus.Metric) {
	phases := map[string]float64{"Pending": 0, "Running": 0, "Succeeded": 0, "Failed": 0, "Unknown": 0}
	for _, p := range c.store.ListPods() {
		if p.Status.Phase != "" {
			phases[string(p.Status.Phase)]++
		}
		for _, cs := range p.Status.ContainerStatuses {
			ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(cs.RestartCount), p.Namespace, p.Name, cs.Name)
		}
	}
	for ph, n := range phases {
		ch <- prometheus.MustNewConstMetric(c.pods, prometheus.GaugeValue, n, ph)
	}
	up := 0.0
	if c.healthy() == nil {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}

func metricsHandler(store *status.Store, healthy func() error, extra ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(extra...)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(&podCollector{
		store:    store,
		healthy:  healthy,
		pods:     prometheus.NewDesc("minikubelet_pods", "Pods the daemon knows, by phase.", []string{"phase"}, nil),
		restarts: prometheus.NewDesc("minikubelet_container_restarts", "Restart count of each container.", []string{"namespace", "pod", "container"}, nil),
		up:       prometheus.NewDesc("minikubelet_containerd_up", "1 when containerd answers.", nil, nil),
	})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
