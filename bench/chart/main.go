// Command chart draws docs/benchmarks.png from the start-latency results
// the benchmark (test/e2e/bench_pods_test.go) writes: p50 and p90 per
// scenario, daemon next to the containerd floor.
//
//	chart -in start-latency.json -out docs/benchmarks.png
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Row is one scenario's start latency, in milliseconds; the benchmark
// writes a JSON array of them.
type Row struct {
	Scenario  string  `json:"scenario"`
	DaemonP50 float64 `json:"daemon_p50_ms"`
	DaemonP90 float64 `json:"daemon_p90_ms"`
	FloorP50  float64 `json:"floor_p50_ms"`
	FloorP90  float64 `json:"floor_p90_ms"`
}

func main() {
	in := flag.String("in", "", "the benchmark's start-latency JSON")
	out := flag.String("out", "docs/benchmarks.png", "the PNG to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var rows []Row
	if err := json.Unmarshal(b, &rows); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("%s: no results", in)
	}
	p := plot.New()
	p.Title.Text = "Pod start latency: manifest written → all containers running"
	p.Y.Label.Text = "milliseconds"
	p.Y.Min = 0
	series := []struct {
		name string
		get  func(Row) float64
		c    color.RGBA
	}{
		{"floor p50", func(r Row) float64 { return r.FloorP50 }, color.RGBA{R: 160, G: 190, B: 230, A: 255}},
		{"floor p90", func(r Row) float64 { return r.FloorP90 }, color.RGBA{R: 40, G: 90, B: 170, A: 255}},
		{"minikubelet p50", func(r Row) float64 { return r.DaemonP50 }, color.RGBA{R: 240, G: 180, B: 120, A: 255}},
		{"minikubelet p90", func(r Row) float64 { return r.DaemonP90 }, color.RGBA{R: 200, G: 90, B: 20, A: 255}},
	}
	w := vg.Points(14)
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Scenario
	}
	for i, s := range series {
		vals := make(plotter.Values, len(rows))
		for j, r := range rows {
			vals[j] = s.get(r)
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = s.c
		bars.LineStyle.Width = 0
		bars.Offset = w * vg.Length(float64(i)-1.5)
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	p.X.Min, p.X.Max = -0.6, float64(len(rows))-0.4
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	p.NominalX(names...)
	return p.Save(9*vg.Inch, 5*vg.Inch, out)
}
