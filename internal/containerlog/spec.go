package containerlog

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
)

const (
	// DefaultMaxSize is the size at which a log file is rotated when a
	// LoggerSpec does not say.
	DefaultMaxSize int64 = 10 << 20
	// DefaultMaxFiles is how many files (the current one included) are kept
	// when a LoggerSpec does not say.
	DefaultMaxFiles = 5

	// LoggerArg is the argument that selects the logger mode of the
	// minikubelet binary: `minikubelet __logger SPEC`. It is also the only
	// query key of the binary:// URI, because the shim turns query pairs into
	// arguments in map order.
	LoggerArg = "__logger"
)

// LoggerSpec says where and how a container's output is written.
type LoggerSpec struct {
	// Path is the absolute path of the current log file.
	Path string
	// MaxSize is the size in bytes past which the file is rotated; 0 means
	// DefaultMaxSize.
	MaxSize int64
	// MaxFiles is how many files are kept, the current one included; 0 means
	// DefaultMaxFiles. 1 keeps no rotated file.
	MaxFiles int
}

// Encode returns the spec in URL query encoding. The output is stable: keys
// are sorted and zero values are left out.
func (s LoggerSpec) Encode() string {
	v := url.Values{}
	v.Set("path", s.Path)
	if s.MaxSize != 0 {
		v.Set("maxSize", strconv.FormatInt(s.MaxSize, 10))
	}
	if s.MaxFiles != 0 {
		v.Set("maxFiles", strconv.Itoa(s.MaxFiles))
	}
	return v.Encode()
}

// DecodeLoggerSpec parses the output of Encode, validates it and fills in
// the defaults.
func DecodeLoggerSpec(s string) (LoggerSpec, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return LoggerSpec{}, fmt.Errorf("decode logger spec: %w", err)
	}
	var spec LoggerSpec
	for key, vals := range v {
		val := vals[0]
		switch key {
		case "path":
			spec.Path = val
		case "maxSize":
			if spec.MaxSize, err = strconv.ParseInt(val, 10, 64); err != nil {
				return LoggerSpec{}, fmt.Errorf("decode logger spec: maxSize: %w", err)
			}
		case "maxFiles":
			if spec.MaxFiles, err = strconv.Atoi(val); err != nil {
				return LoggerSpec{}, fmt.Errorf("decode logger spec: maxFiles: %w", err)
			}
		default:
			return LoggerSpec{}, fmt.Errorf("decode logger spec: unknown key %q", key)
		}
	}
	if err := spec.validate(); err != nil {
		return LoggerSpec{}, fmt.Errorf("decode logger spec: %w", err)
	}
	return spec.withDefaults(), nil
}

func (s LoggerSpec) validate() error {
	switch {
	case s.Path == "":
		return errors.New("path is required")
	case !filepath.IsAbs(s.Path):
		return fmt.Errorf("path %q must be absolute", s.Path)
	case s.MaxSize < 0:
		return fmt.Errorf("maxSize %d must not be negative", s.MaxSize)
	case s.MaxFiles < 0:
		return fmt.Errorf("maxFiles %d must not be negative", s.MaxFiles)
	}
	return nil
}

func (s LoggerSpec) withDefaults() LoggerSpec {
	if s.MaxSize == 0 {
		s.MaxSize = DefaultMaxSize
	}
	if s.MaxFiles == 0 {
		s.MaxFiles = DefaultMaxFiles
	}
	return s
}

// BinaryURI returns the binary:// URI for cio.LogURI that makes the shim run
// `exe __logger SPEC` for the container's output. exe must be absolute (the
// daemon passes its own os.Executable()).
//
// The scheme is "binary", not "binary-v2": the host's shim may predate
// binary-v2. RunLogger signals readiness in a way both understand.
func BinaryURI(exe string, s LoggerSpec) (*url.URL, error) {
	if !filepath.IsAbs(exe) {
		return nil, fmt.Errorf("logger binary %q must be absolute", exe)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("logger spec: %w", err)
	}
	return &url.URL{
		Scheme:   "binary",
		Path:     filepath.Clean(exe),
		RawQuery: url.Values{LoggerArg: {s.Encode()}}.Encode(),
	}, nil
}
