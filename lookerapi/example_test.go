package lookerapi_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// Run streams a result; the caller copies the body wherever it goes and
// closes it. Errors say whether retrying the whole run could help.
func ExampleClient_Run() {
	srv := lookertest.NewServer(lookertest.Options{Rows: 3})
	defer srv.Close()

	ctx := context.Background()
	c, err := lookerapi.New(lookerapi.Config{
		BaseURL:      srv.URL(),
		ClientID:     srv.ClientID(),
		ClientSecret: srv.ClientSecret(),
		VerifySSL:    true,
	}, zap.NewNop())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ctx)

	src := lookerapi.Source{Query: &lookerapi.Query{
		Model: "thelook", View: "orders",
		Fields: []string{"orders.id", "orders.created_time", "users.country", "orders.amount"},
	}}
	res, err := c.Run(ctx, src, lookerapi.RunOptions{ResultFormat: "csv"})
	if err != nil {
		fmt.Println(err, "retryable:", lookerapi.IsRetryable(err))
		return
	}
	defer res.Body.Close()
	if _, err := io.Copy(os.Stdout, res.Body); err != nil {
		fmt.Println(err, "retryable:", lookerapi.IsRetryable(err))
	}

	_, err = c.Run(ctx, lookerapi.Source{LookID: "404"}, lookerapi.RunOptions{ResultFormat: "csv"})
	fmt.Println(err, "retryable:", lookerapi.IsRetryable(err))
	// Output:
	// Orders ID,Orders Created Time,Users Country,Orders Amount
	// 1,2024-01-01 08:00:00,Spain,422.75
	// 2,2024-01-01 08:01:37,South Africa,425.33
	// 3,2024-01-01 08:03:14,Egypt,19.46
	// 404 Not found: look 404 was not found, or the Looker user running it (the API user, or run_as) has no permission to it (folder access, model set); look 404: look GET /api/4.0/looks/404 (https://cloud.google.com/looker/docs/r/err/4.0/404/get/looks/:look_id) retryable: false
}
