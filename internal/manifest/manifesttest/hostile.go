// Package manifesttest makes hostile manifest files for tests and
// benchmarks: files small enough to pass the size limit that a naive
// parser turns into gigabytes or millions of problems.
package manifesttest

import (
	"bytes"
	"strconv"
	"strings"
)

// AliasBomb is a Pod document of about scalar+4*aliases bytes whose JSON is
// scalar*aliases bytes: one anchored scalar of scalar bytes, then a list
// of aliases to it (review finding #1: 1 MiB and 5000 aliases make 5 GiB).
func AliasBomb(name string, scalar, aliases int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nx: &a \"")
	b.WriteString(strings.Repeat("A", scalar))
	b.WriteString("\"\ny: [")
	for i := 0; i < aliases; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("*a")
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// NestedAliasBomb is the classic billion laughs: a scalar of leaf bytes,
// then levels of lists, each of width aliases to the one before, so that
// the last expands to width^levels copies of the scalar. yaml.v2 refuses
// a document where more than 99% of the nodes decoded come through
// aliases, or more than about 400 000 do; a list of plain nodes keeps the
// bomb under the first bound (5%), so that only its bytes can stop it.
func NestedAliasBomb(leaf, width, levels int) []byte {
	total := 1
	for l := 0; l < levels; l++ {
		total *= width
	}
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata: {name: laughs}\n")
	// First: yaml.v2 checks the ratio as it goes.
	b.WriteString("pad: [0" + strings.Repeat(",0", total/20) + "]\n")
	b.WriteString("l0: &l0 \"" + strings.Repeat("lol ", leaf/4) + "\"\n")
	for l := 1; l <= levels; l++ {
		b.WriteString("l" + strconv.Itoa(l) + ": &l" + strconv.Itoa(l) + " [")
		for i := 0; i < width; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("*l" + strconv.Itoa(l-1))
		}
		b.WriteString("]\n")
	}
	return b.Bytes()
}

// DocumentFlood is size bytes of tiny YAML documents, "---\na: 1\n" over
// and over (review finding #4: 10 MB of them made 2.3 million problems).
func DocumentFlood(size int) []byte {
	return repeatTo("---\na: 1\n", size)
}

// JSONFlood is size bytes of empty JSON objects, "{}\n" over and over.
func JSONFlood(size int) []byte {
	return repeatTo("{}\n", size)
}

func repeatTo(unit string, size int) []byte {
	return []byte(strings.Repeat(unit, max(size/len(unit), 1)))
}
