// Package lookerdec decodes Looker result bodies (result formats csv, json
// and json_bi) into formats.Row values, streaming: one row at a time into
// buffers reused across Next calls, so memory stays flat whatever the result
// size. A Row returned by Next is valid until the next call.
//
// Decode errors are *DecodeError values naming the 1-based data row, the
// byte offset in the body and a short snippet of the input; an error Looker
// reports inside a JSON body ({"looker_error": "..."}) is a *LookerError.
// No input makes a decoder panic.
package lookerdec
