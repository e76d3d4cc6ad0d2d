// Command gotar lists a tar stream the way the container runtime reads it: with Go's archive/tar.
//
// gotar FILE    one archive from FILE ("-" for stdin)
// gotar -batch  a sequence of archives on stdin, each an 8-byte big-endian length and the bytes
//
// For each archive it prints one JSON line per entry (name and linkname hex-encoded, since tar names
// need not be UTF-8; the sha256 of the bytes tr.Read returns; the PAX records of global headers) and a
// final line {"end": "EOF"} or {"end": "<error>"}.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

type entry struct {
	Name     string            `json:"name"`
	Type     int               `json:"type"`
	Size     int64             `json:"size"`
	Linkname string            `json:"linkname"`
	Sha256   string            `json:"sha256"`
	Read     int64             `json:"read"`
	Pax      map[string]string `json:"pax,omitempty"`
}

type end struct {
	End string `json:"end"`
}

func list(r io.Reader, out *json.Encoder) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out.Encode(end{"EOF"})
		}
		if err != nil {
			return out.Encode(end{err.Error()})
		}
		h := sha256.New()
		n, err := io.Copy(h, tr)
		e := entry{
			Name:     hex.EncodeToString([]byte(hdr.Name)),
			Type:     int(hdr.Typeflag),
			Size:     hdr.Size,
			Linkname: hex.EncodeToString([]byte(hdr.Linkname)),
			Sha256:   hex.EncodeToString(h.Sum(nil)),
			Read:     n,
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			e.Pax = map[string]string{}
			for k, v := range hdr.PAXRecords {
				e.Pax[hex.EncodeToString([]byte(k))] = hex.EncodeToString([]byte(v))
			}
		}
		if encErr := out.Encode(e); encErr != nil {
			return encErr
		}
		if err != nil {
			return out.Encode(end{err.Error()})
		}
	}
}

func batch(in io.Reader, out *json.Encoder) error {
	var size [8]byte
	for {
		if _, err := io.ReadFull(in, size[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		data := make([]byte, binary.BigEndian.Uint64(size[:]))
		if _, err := io.ReadFull(in, data); err != nil {
			return err
		}
		if err := list(bytes.NewReader(data), out); err != nil {
			return err
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gotar FILE | gotar - | gotar -batch")
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	out := json.NewEncoder(w)
	var err error
	switch os.Args[1] {
	case "-batch":
		err = batch(bufio.NewReader(os.Stdin), out)
	case "-":
		err = list(bufio.NewReader(os.Stdin), out)
	default:
		var f *os.File
		if f, err = os.Open(os.Args[1]); err == nil {
			err = list(f, out)
			f.Close()
		}
	}
	if flushErr := w.Flush(); err == nil {
		err = flushErr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gotar:", err)
		os.Exit(2)
	}
}
