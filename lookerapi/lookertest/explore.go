package lookertest

import "net/http"

// exploreHandler serves GET /lookml_models/{model}/explores/{explore}: the
// LookmlModelExplore of thelook/orders (spec op lookml_model_explore), with
// every field's LookML type, convert_tz of time fields, value_format, and
// the explore's connection_name.
// The fields query parameter (a partial-response selector) is accepted and
// ignored: the whole explore comes back.
func (s *Server) exploreHandler(c *call) {
	model, explore := c.r.PathValue("lookml_model_name"), c.r.PathValue("explore_name")
	if model != modelName || explore != exploreName {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	dims, measures := []any{}, []any{}
	for _, f := range catalog {
		if f.Category == "measure" {
			measures = append(measures, exploreField(f))
		} else {
			dims = append(dims, exploreField(f))
		}
	}
	c.writeJSON(http.StatusOK, map[string]any{
		"id": modelName + "::" + exploreName, "name": exploreName, "description": nil, "label": "Orders", "title": "Orders",
		"scopes": []string{"orders", "users", "products"}, "can_total": true, "can_develop": true, "can_see_lookml": true,
		"lookml_link": "/projects/thelook/files/orders.explore.lkml", "can_save": true, "can_explain": true,
		"can_pivot_in_db": canPivotInDB, "can_subtotal": true, "has_timezone_support": true, "supports_cost_estimate": true,
		"connection_name": connectionName, "dialect_name": dialectName, "null_sort_treatment": "low",
		"files":       []string{"thelook.model.lkml", "orders.view.lkml", "users.view.lkml", "products.view.lkml"},
		"source_file": "thelook.model.lkml", "project_name": "thelook", "model_name": modelName, "view_name": exploreName,
		"hidden": false, "sql_table_name": "public.orders AS orders", "access_filter_fields": nil, "access_filters": []any{},
		"aliases": []any{}, "always_filter": []any{}, "conditionally_filter": []any{}, "index_fields": []string{"orders.id"},
		"sets": []any{}, "tags": []any{}, "errors": []any{}, "joins": []any{}, "group_label": "The Look",
		"supported_measure_types": []any{}, "always_join": []any{},
		"fields": map[string]any{"dimensions": dims, "measures": measures, "filters": []any{}, "parameters": []any{}},
	})
}

// exploreField is the LookmlModelExploreField of f.
func exploreField(f *fieldDef) map[string]any {
	align := "left"
	if f.numeric {
		align = "right"
	}
	timeframe := f.timeframe()
	var group, convertTZ, valueFormat any
	if timeframe {
		group = "created"
		// convert_tz (LookmlModelExploreField.convert_tz): whether Looker
		// converts the field's values to the query time zone.
		convertTZ = f.convertTZ
	}
	if f.valueFormat != "" {
		valueFormat = f.valueFormat
	}
	return map[string]any{
		"align": align, "can_filter": true, "category": f.Category, "default_filter_value": nil, "description": nil,
		"dimension_group": group, "enumerations": nil, "error": nil, "field_group_label": nil, "field_group_variant": f.labelShort,
		"fill_style": nil, "fiscal_month_offset": 0, "has_allowed_values": false, "hidden": false, "is_filter": false,
		"is_fiscal": false, "is_numeric": f.numeric, "is_timeframe": timeframe, "can_time_filter": timeframe,
		"label": f.Label, "label_from_parameter": nil, "label_short": f.labelShort, "lookml_link": nil,
		"measure": f.Category == "measure", "name": f.Name, "strict_value_format": false, "parameter": false,
		"permanent": nil, "primary_key": f.Name == "orders.id", "project_name": "thelook", "requires_refresh_on_sort": false,
		"scope": f.view, "sortable": true, "source_file": f.view + ".view.lkml", "source_file_path": "thelook/" + f.view + ".view.lkml",
		"sql": "${TABLE}." + f.column, "sql_case": nil, "filters": nil, "suggest_dimension": f.Name, "suggest_explore": exploreName,
		"suggestable": !f.numeric, "suggestions": nil, "synonyms": []string{}, "tags": []string{}, "type": f.Type,
		"user_attribute_filter_types": []string{"string", "advanced_filter_string"}, "value_format": valueFormat, "value_format_name": nil,
		"view": f.view, "view_label": f.viewLabel, "dynamic": false, "week_start_day": "monday", "times_used": 0,
		"original_view": f.view, "datatype": nil, "convert_tz": convertTZ,
	}
}
