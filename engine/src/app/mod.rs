//! HTTP/1.x and WebSocket parsers over reassembled streams (work in progress; not wired yet).
