package pod

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are what the pod workers measure. Collectors returns them for
// registration; a Manager without Metrics gets unregistered ones.
type Metrics struct {
	podStart      prometheus.Histogram
	probeFailures *prometheus.CounterVec
	probes        *prometheus.HistogramVec
	pulls         *prometheus.CounterVec
	pullDuration  prometheus.Histogram
	runtimeErrors *prometheus.CounterVec
}

// NewMetrics creates the pod metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		// Like the kubelet's pod start SLI: from the pod's first sight to
		// every container running, image pulls included.
		podStart: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "minikubelet_pod_start_duration_seconds",
			Help:    "Time from a pod's manifest being seen to all its containers running.",
			Buckets: []float64{0.25, 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 300, 600},
		}),
		probeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minikubelet_probe_failures_total",
			Help: "Failed probe attempts, by probe kind.",
		}, []string{"probe_type"}),
		probes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "minikubelet_probe_duration_seconds",
			Help:    "Duration of probe attempts, by probe kind and result.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"probe_type", "result"}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minikubelet_image_pulls_total",
			Help: "Image pulls, by result.",
		}, []string{"result"}),
		pullDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "minikubelet_image_pull_duration_seconds",
			Help:    "Duration of successful image pulls.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 12),
		}),
		runtimeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minikubelet_runtime_errors_total",
			Help: "Failed containerd operations, by operation.",
		}, []string{"operation"}),
	}
}

// Collectors returns every metric, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.podStart, m.probeFailures, m.probes, m.pulls, m.pullDuration, m.runtimeErrors}
}

func (m *Metrics) observePull(err error, took time.Duration) {
	if err != nil {
		m.pulls.WithLabelValues("failure").Inc()
		return
	}
	m.pulls.WithLabelValues("success").Inc()
	m.pullDuration.Observe(took.Seconds())
}
