package ignis.runtime;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The Runtime API over one persistent HTTP/1.1 connection, with a client of
 * its own: java.net.HttpURLConnection loads the URL handler machinery,
 * which costs tens of milliseconds on every cold start.
 */
final class RuntimeApi {
    static final String PREFIX = "/2018-06-01/runtime";

    /** A failure of the Runtime API itself: the runtime should exit. */
    static final class ApiException extends IOException {
        private static final long serialVersionUID = 1L;

        ApiException(String message) {
            super(message);
        }
    }

    static final class Response {
        final int status;
        final Map<String, String> headers;
        final byte[] body;

        Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        String header(String name) {
            return headers.get(name);
        }
    }

    private final String address;
    private final String host;
    private final int port;
    private final String agent;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeApi(String address) {
        this.address = address;
        String h = address;
        int p = 80;
        int colon = address.lastIndexOf(':');
        if (colon >= 0 && colon < address.length() - 1 && address.indexOf(']', colon) < 0) {
            try {
                p = Integer.parseInt(address.substring(colon + 1));
                h = address.substring(0, colon);
            } catch (NumberFormatException e) {
                h = address;
            }
        }
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        this.host = h.isEmpty() ? "127.0.0.1" : h;
        this.port = p;
        this.agent = "ignis-java/" + System.getProperty("java.version", "");
    }

    // -- transport ----------------------------------------------------------

    private void connect() throws IOException {
        // No proxy: skips the SOCKS implementation and the ProxySelector.
        Socket s = new Socket(java.net.Proxy.NO_PROXY);
        try {
            s.setTcpNoDelay(true);
        } catch (IOException e) {
            // not fatal
        }
        s.connect(new InetSocketAddress(host, port));
        socket = s;
        in = new BufferedInputStream(s.getInputStream(), 65536);
        out = s.getOutputStream();
    }

    void close() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException e) {
                // ignore
            }
        }
        socket = null;
        in = null;
        out = null;
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the Runtime API closed the connection");
            }
            if (b == '\n') {
                break;
            }
            if (line.size() > (1 << 20)) {
                throw new IOException("malformed response from the Runtime API");
            }
            line.write(b);
        }
        byte[] bytes = line.toByteArray();
        int n = bytes.length;
        if (n > 0 && bytes[n - 1] == '\r') {
            n--;
        }
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
    }

    private byte[] readExactly(long length) throws IOException {
        if (length > Integer.MAX_VALUE - 16) {
            throw new IOException("response body too large");
        }
        byte[] body = new byte[(int) length];
        int have = 0;
        while (have < body.length) {
            int got = in.read(body, have, body.length - have);
            if (got < 0) {
                throw new IOException("the Runtime API closed the connection");
            }
            have += got;
        }
        return body;
    }

    private Response readResponse() throws IOException {
        int status;
        String version;
        Map<String, String> headers;
        while (true) {
            String statusLine = readLine();
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
                throw new IOException("malformed status line '" + statusLine + "'");
            }
            version = parts[0];
            try {
                status = Integer.parseInt(parts[1].trim());
            } catch (NumberFormatException e) {
                throw new IOException("malformed status line '" + statusLine + "'");
            }
            headers = new HashMap<String, String>();
            while (true) {
                String line = readLine();
                if (line.isEmpty()) {
                    break;
                }
                int colon = line.indexOf(':');
                if (colon > 0) {
                    headers.put(line.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT),
                            line.substring(colon + 1).trim());
                }
            }
            if (status >= 100 && status < 200) {
                continue;
            }
            break;
        }
        boolean keepAlive = !"HTTP/1.0".equals(version);
        String conn = headers.get("connection");
        if (conn != null) {
            String c = conn.toLowerCase(java.util.Locale.ROOT);
            if (c.contains("close")) {
                keepAlive = false;
            } else if (c.contains("keep-alive")) {
                keepAlive = true;
            }
        }
        byte[] body;
        String te = headers.get("transfer-encoding");
        String cl = headers.get("content-length");
        if (te != null && te.toLowerCase(java.util.Locale.ROOT).contains("chunked")) {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            while (true) {
                String sizeLine = readLine();
                int semi = sizeLine.indexOf(';');
                if (semi >= 0) {
                    sizeLine = sizeLine.substring(0, semi);
                }
                long size = Long.parseLong(sizeLine.trim(), 16);
                if (size == 0) {
                    while (!readLine().isEmpty()) {
                        // trailers
                    }
                    break;
                }
                all.write(readExactly(size));
                readLine();
            }
            body = all.toByteArray();
        } else if (cl != null) {
            body = readExactly(Long.parseLong(cl.trim()));
        } else if (status == 204 || status == 304) {
            body = new byte[0];
        } else {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            byte[] buf = new byte[65536];
            int n;
            while ((n = in.read(buf)) >= 0) {
                all.write(buf, 0, n);
            }
            body = all.toByteArray();
            keepAlive = false;
        }
        if (!keepAlive) {
            close();
        }
        return new Response(status, headers, body);
    }

    Response request(String method, String path, byte[] body, Map<String, String> extra) throws ApiException {
        StringBuilder head = new StringBuilder(256);
        head.append(method).append(' ').append(PREFIX).append(path).append(" HTTP/1.1\r\n");
        head.append("Host: ").append(address).append("\r\n");
        head.append("User-Agent: ").append(agent).append("\r\n");
        if (body != null) {
            head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        if (extra != null) {
            for (Map.Entry<String, String> e : extra.entrySet()) {
                head.append(e.getKey()).append(": ").append(e.getValue()).append("\r\n");
            }
        }
        head.append("\r\n");
        byte[] headBytes = head.toString().getBytes(StandardCharsets.ISO_8859_1);
        IOException failure = null;
        for (int attempt = 0; attempt < 2; attempt++) {
            boolean reused = socket != null;
            try {
                if (!reused) {
                    connect();
                }
                try {
                    if (body != null && body.length > 0 && body.length < 65536) {
                        byte[] all = new byte[headBytes.length + body.length];
                        System.arraycopy(headBytes, 0, all, 0, headBytes.length);
                        System.arraycopy(body, 0, all, headBytes.length, body.length);
                        out.write(all);
                    } else {
                        out.write(headBytes);
                        if (body != null && body.length > 0) {
                            out.write(body);
                        }
                    }
                    out.flush();
                } catch (IOException e) {
                    // The server may have answered (a 413) and closed before
                    // reading the whole body: its answer is what counts.
                    try {
                        return readResponse();
                    } catch (IOException | RuntimeException e2) {
                        throw e;
                    }
                }
                return readResponse();
            } catch (IOException | RuntimeException e) {
                close();
                failure = e instanceof IOException ? (IOException) e : new IOException(e.toString());
                // A kept-alive connection the server dropped while idle: once,
                // try again on a new one.
                if (!reused) {
                    break;
                }
            }
        }
        throw new ApiException(method + " " + PREFIX + path + " failed: " + failure.getMessage());
    }

    // -- the API --------------------------------------------------------------

    Response next() throws ApiException {
        Response resp = request("GET", "/invocation/next", null, null);
        if (resp.status != 200) {
            throw new ApiException("GET /invocation/next answered " + resp.status + ": " + snippet(resp.body));
        }
        return resp;
    }

    private static String snippet(byte[] body) {
        int n = Math.min(body.length, 1000);
        return new String(body, 0, n, StandardCharsets.UTF_8);
    }

    private void post(String path, byte[] body, Map<String, String> headers) throws ApiException {
        Response resp = request("POST", path, body, headers);
        if (resp.status == 202) {
            return;
        }
        String message = "POST " + PREFIX + path + " answered " + resp.status + ": " + snippet(resp.body);
        if (resp.status >= 500) {
            // Container error: non-recoverable, the runtime should exit.
            throw new ApiException(message);
        }
        // 4xx (an oversized response, an invocation answered already): the
        // platform reports it to the caller; this environment carries on.
        if (resp.status != 413) {
            System.err.println("ignis: " + message);
        }
    }

    void postResponse(String requestId, byte[] body) throws ApiException {
        Map<String, String> h = new HashMap<String, String>();
        h.put("Content-Type", "application/json");
        post("/invocation/" + requestId + "/response", body, h);
    }

    void postError(String requestId, byte[] doc, String errorType) throws ApiException {
        post("/invocation/" + requestId + "/error", doc, errorHeaders(errorType));
    }

    void postInitError(byte[] doc, String errorType) throws ApiException {
        post("/init/error", doc, errorHeaders(errorType));
    }

    private static Map<String, String> errorHeaders(String errorType) {
        Map<String, String> h = new HashMap<String, String>();
        h.put("Content-Type", "application/json");
        StringBuilder clean = new StringBuilder();
        for (int i = 0; i < errorType.length(); i++) {
            char c = errorType.charAt(i);
            clean.append(c < 0x20 || c > 0x7e ? ' ' : c);
        }
        h.put("Lambda-Runtime-Function-Error-Type", clean.toString());
        return h;
    }
}
