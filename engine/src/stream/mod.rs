//! Per-direction TCP stream reassembly (work in progress for HTTP/WebSocket; not wired yet).
