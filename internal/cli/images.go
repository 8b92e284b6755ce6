package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/minikubelet/minikubelet/internal/api"
)

// ImagesList prints the daemon's images as a table.
func ImagesList(ctx context.Context, socket string, out io.Writer) error {
	list, err := api.NewClient(socket).ListImages(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tID\tSIZE\tIN USE BY")
	for _, i := range list.Items {
		users := strings.Join(i.InUse, ",")
		if users == "" {
			users = "<none>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.Ref, shortID(i.ID), resource.NewQuantity(i.Size, resource.BinarySI).String(), users)
	}
	return tw.Flush()
}

func shortID(id string) string {
	if _, d, ok := strings.Cut(id, "@sha256:"); ok && len(d) >= 12 {
		return d[:12]
	}
	return id
}

// ImagesImport sends archive files ("-" for standard input) to the daemon.
func ImagesImport(ctx context.Context, socket string, files []string, out io.Writer) error {
	c := api.NewClient(socket)
	for _, f := range files {
		var r io.Reader = os.Stdin
		if f != "-" {
			file, err := os.Open(f)
			if err != nil {
				return err
			}
			defer file.Close()
			r = file
		}
		list, err := c.ImportImages(ctx, r)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, i := range list.Items {
			fmt.Fprintf(out, "imported %s (%s)\n", i.Ref, shortID(i.ID))
		}
	}
	return nil
}

// ImagesRemove removes images; one in use by a pod is refused.
func ImagesRemove(ctx context.Context, socket string, refs []string, out io.Writer) error {
	c := api.NewClient(socket)
	var errs []error
	for _, ref := range refs {
		if err := c.RemoveImage(ctx, ref); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(out, "removed %s\n", ref)
	}
	return errors.Join(errs...)
}
