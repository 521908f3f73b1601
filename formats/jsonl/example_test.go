package jsonl_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/jsonl"
	"github.com/lookerexport/exporter/formats/lookerdec"
)

// Converting a Looker json result to JSON lines, typed by the query's
// field metadata.
func ExampleNew() {
	schema := formats.Schema{Fields: []formats.Field{
		{Name: "orders.created_time", Type: formats.TypeForLookML("date_time")},
		{Name: "orders.is_paid", Type: formats.TypeForLookML("yesno")},
		{Name: "orders.total", Type: formats.TypeForLookML("sum")},
	}}
	body := `[{"orders.created_time":"2026-03-01 10:15:00","orders.is_paid":"Yes","orders.total":"12.50"},
	          {"orders.created_time":null,"orders.is_paid":"No","orders.total":null}]`
	r, err := lookerdec.NewJSON(strings.NewReader(body), &schema)
	if err != nil {
		fmt.Println(err)
		return
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	w := jsonl.New(os.Stdout, r.Schema(), jsonl.Options{Location: berlin})
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			err = w.WriteRow(row)
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"orders_created_time":"2026-03-01T09:15:00Z","orders_is_paid":true,"orders_total":12.50}
	// {"orders_created_time":null,"orders_is_paid":false,"orders_total":null}
}
