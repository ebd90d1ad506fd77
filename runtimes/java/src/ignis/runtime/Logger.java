package ignis.runtime;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * context.getLogger(): Lambda's LambdaLogger. Records go to stdout, which
 * Ignis reads line by line; each record ends with a newline.
 *
 * In the Text log format a record is the message as is, prefixed with
 * "[LEVEL] " when logged with a level. In the JSON format it is
 * {"timestamp","level","message","AWSRequestId"}, and records below
 * AWS_LAMBDA_LOG_LEVEL (INFO by default) are dropped.
 */
public final class Logger {
    private static final String[] LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    static final Logger INSTANCE = new Logger();

    private final OutputStream out = new FileOutputStream(FileDescriptor.out);
    private final boolean json;
    private final int minLevel;
    private volatile String requestId;
    private volatile String tenantId;

    private Logger() {
        String format = Bootstrap.env("AWS_LAMBDA_LOG_FORMAT");
        json = format != null && format.equalsIgnoreCase("JSON");
        String level = Bootstrap.env("AWS_LAMBDA_LOG_LEVEL");
        int min = json ? levelIndex("INFO") : -1;
        if (level != null && !level.isEmpty()) {
            int i = levelIndex(level.toUpperCase(java.util.Locale.ROOT));
            if (i >= 0) {
                min = i;
            }
        }
        minLevel = min;
    }

    boolean isJson() {
        return json;
    }

    private static int levelIndex(String level) {
        for (int i = 0; i < LEVELS.length; i++) {
            if (LEVELS[i].equals(level)) {
                return i;
            }
        }
        return -1;
    }

    void setInvocation(String requestId, String tenantId) {
        this.requestId = requestId;
        this.tenantId = tenantId;
    }

    public void log(String message) {
        log(message, (String) null);
    }

    public void log(byte[] message) {
        log(message, (String) null);
    }

    /** level: one of LEVELS, or null for UNDEFINED. */
    public void log(String message, String level) {
        if (message == null) {
            message = "null";
        }
        if (level != null && minLevel >= 0 && levelIndex(level) >= 0 && levelIndex(level) < minLevel) {
            return;
        }
        String text;
        if (json) {
            StringBuilder sb = new StringBuilder(message.length() + 128);
            sb.append("{\"timestamp\":");
            Json.quote(sb, timestamp());
            sb.append(",\"level\":");
            Json.quote(sb, level == null ? "UNDEFINED" : level);
            sb.append(",\"message\":");
            Json.quote(sb, message);
            String rid = requestId;
            if (rid != null) {
                sb.append(",\"AWSRequestId\":");
                Json.quote(sb, rid);
            }
            String tid = tenantId;
            if (tid != null) {
                sb.append(",\"tenantId\":");
                Json.quote(sb, tid);
            }
            sb.append('}');
            text = sb.toString();
        } else if (level != null) {
            text = "[" + level + "] " + message;
        } else {
            text = message;
        }
        write(text.getBytes(StandardCharsets.UTF_8));
    }

    public void log(byte[] message, String level) {
        if (level != null && minLevel >= 0 && levelIndex(level) >= 0 && levelIndex(level) < minLevel) {
            return;
        }
        write(message == null ? new byte[0] : message);
    }

    /** A call through the aws-lambda-java-core LambdaLogger proxy. */
    Object fromProxy(String name, Object[] args) {
        if (!name.equals("log") || args == null || args.length == 0) {
            return null;
        }
        String level = null;
        if (args.length > 1 && args[1] != null) {
            level = args[1] instanceof Enum ? ((Enum<?>) args[1]).name() : args[1].toString();
            if (level.equals("UNDEFINED")) {
                level = null;
            }
        }
        if (args[0] instanceof byte[]) {
            log((byte[]) args[0], level);
        } else {
            log(args[0] == null ? null : args[0].toString(), level);
        }
        return null;
    }

    /** Loaded on first use: java.time costs start-up time. */
    private static final class Clock {
        static final DateTimeFormatter TIMESTAMP =
                DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
    }

    static String timestamp() {
        return Clock.TIMESTAMP.format(Instant.now());
    }

    /** Writes one record, with a newline if it has none, in one write. */
    synchronized void write(byte[] bytes) {
        try {
            System.out.flush();
            if (bytes.length == 0 || bytes[bytes.length - 1] != '\n') {
                byte[] b = new byte[bytes.length + 1];
                System.arraycopy(bytes, 0, b, 0, bytes.length);
                b[bytes.length] = '\n';
                bytes = b;
            }
            out.write(bytes);
        } catch (IOException e) {
            // stdout gone: nothing to log to
        }
    }

    @Override
    public String toString() {
        return "LambdaLogger";
    }
}
