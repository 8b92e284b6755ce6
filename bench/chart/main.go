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
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
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
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Scenario
	}
	abs, err := latencyPlot(rows, names)
	if err != nil {
		return err
	}
	ratio, err := ratioPlot(rows, names)
	if err != nil {
		return err
	}
	// Side by side: the times themselves, and what the target is
	// about, the daemon's time over the floor's.
	img := vgimg.New(14*vg.Inch, 5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 3, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	canvases := plot.Align([][]*plot.Plot{{abs, ratio}}, tiles, dc)
	abs.Draw(canvases[0][0])
	ratio.Draw(canvases[0][1])
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type series struct {
	name string
	get  func(Row) float64
	c    color.RGBA
}

// bars adds one bar chart per series, grouped by scenario, and returns the
// largest value drawn.
func bars(p *plot.Plot, rows []Row, ss []series) (float64, error) {
	w := vg.Points(14)
	top := 0.0
	for i, s := range ss {
		vals := make(plotter.Values, len(rows))
		for j, r := range rows {
			vals[j] = s.get(r)
			top = max(top, vals[j])
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return 0, err
		}
		b.Color = s.c
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(len(ss)-1)/2)
		p.Add(b)
		p.Legend.Add(s.name, b)
	}
	p.X.Min, p.X.Max = -0.6, float64(len(rows))-0.4
	p.Legend.Top = true
	p.Legend.Left = true
	return top, nil
}

func latencyPlot(rows []Row, names []string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Pod start latency: manifest written → all containers running"
	p.Y.Label.Text = "milliseconds"
	p.Add(plotter.NewGrid())
	top, err := bars(p, rows, []series{
		{"floor p50", func(r Row) float64 { return r.FloorP50 }, color.RGBA{R: 160, G: 190, B: 230, A: 255}},
		{"floor p90", func(r Row) float64 { return r.FloorP90 }, color.RGBA{R: 40, G: 90, B: 170, A: 255}},
		{"minikubelet p50", func(r Row) float64 { return r.DaemonP50 }, color.RGBA{R: 240, G: 180, B: 120, A: 255}},
		{"minikubelet p90", func(r Row) float64 { return r.DaemonP90 }, color.RGBA{R: 200, G: 90, B: 20, A: 255}},
	})
	if err != nil {
		return nil, err
	}
	// Room above the tallest bar for the legend.
	p.Y.Min, p.Y.Max = 0, top*1.35
	p.NominalX(names...)
	return p, nil
}

// targetRatio is the target: the daemon within 1.3x the floor at p50.
const targetRatio = 1.3

func ratioPlot(rows []Row, names []string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "minikubelet ÷ containerd floor (target: p50 under 1.3×)"
	p.Y.Label.Text = "ratio"
	p.Add(plotter.NewGrid())
	top, err := bars(p, rows, []series{
		{"p50", func(r Row) float64 { return r.DaemonP50 / r.FloorP50 }, color.RGBA{R: 240, G: 180, B: 120, A: 255}},
		{"p90", func(r Row) float64 { return r.DaemonP90 / r.FloorP90 }, color.RGBA{R: 200, G: 90, B: 20, A: 255}},
	})
	if err != nil {
		return nil, err
	}
	target, err := plotter.NewLine(plotter.XYs{{X: -0.6, Y: targetRatio}, {X: float64(len(rows)) - 0.4, Y: targetRatio}})
	if err != nil {
		return nil, err
	}
	target.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	target.LineStyle.Width = vg.Points(1.5)
	p.Add(target)
	p.Legend.Add("target (1.3×)", target)
	p.Y.Min, p.Y.Max = 0, max(top, targetRatio)*1.4
	var ticks []plot.Tick
	for v := 0.0; v <= p.Y.Max; v += 0.25 {
		label := ""
		if int(v*4)%2 == 0 {
			label = fmt.Sprintf("%.1f", v)
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.NominalX(names...)
	return p, nil
}
