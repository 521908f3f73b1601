package lookerapi

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// A run looks its fields up in the index the cached explore keeps; a copy
// handed to a caller (Client.Explore) drops it, so that the caller's
// changes to its fields are what a lookup sees.
func TestExploreIndex(t *testing.T) {
	t.Parallel()
	ex := &Explore{Model: "m", Name: "e", Fields: []Field{
		{Name: "orders.id", Type: "number"}, {Name: "orders.status", Type: "string"}, {Name: "orders.id", Type: "string"},
	}}
	q := Query{Model: "m", View: "e", Fields: []string{"orders.status", "orders.id", "orders.gone"}}
	want := []Field{{Name: "orders.status", Type: "string"}, {Name: "orders.id", Type: "string"}, {Name: "orders.gone"}}

	got, problems := queryFields(q, ex) // no index: one is made for the call
	require.Equal(t, want, got, "the last field of a name wins")
	require.Equal(t, []string{"field orders.gone is not in explore m/e"}, problems)

	ex.byName = ex.index()
	got, _ = queryFields(q, ex)
	require.Equal(t, want, got, "the index finds the same fields")

	own := *ex
	own.Fields = append([]Field(nil), ex.Fields...)
	own.byName = nil
	own.Fields[1].Type = "yesno"
	got, _ = queryFields(q, &own)
	require.Equal(t, "yesno", got[0].Type)
}

// The explore a client caches is indexed once; Client.Explore hands out a
// copy without the index.
func TestCachedExploreIsIndexed(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), VerifySSL: true}, zaptest.NewLogger(t))
	require.NoError(t, err)
	ctx := context.Background()
	cached, err := c.explore(ctx, lookertest.Model, lookertest.ExploreName, "")
	require.NoError(t, err)
	require.Len(t, cached.byName, len(cached.Fields))
	for i, f := range cached.Fields {
		require.Equal(t, i, cached.byName[f.Name])
	}
	own, err := c.Explore(ctx, lookertest.Model, lookertest.ExploreName)
	require.NoError(t, err)
	require.Nil(t, own.byName)
	require.Equal(t, cached.Fields, own.Fields)
}
