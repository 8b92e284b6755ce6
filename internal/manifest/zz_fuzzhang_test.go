package manifest

import ("testing"; "time"; "fmt")

func FuzzZZHang(f *testing.F) {
	for _, seed := range []string{minimalPod, "a: &a [*a, *a]\n", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"a","image":"b"}]}}`, "---\n---\n...\n"} {
		f.Add("p.yaml", []byte(seed))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		tm := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("hang on %q %q", name, data)) })
		defer tm.Stop()
		ParseFile("/m/"+name, data, node)
	})
}
