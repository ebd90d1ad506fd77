package ignis.runtime;

import java.util.Map;

/**
 * The handler of the class-data-sharing training run: Ignis runs the client
 * once per JDK with this handler to record the classes a cold start loads
 * (the client's and the JDK's) into a shared archive. It is part of the
 * client, never a function's code: no function's classes are ever loaded
 * while the archive is recorded. It takes and returns a map the way a plain
 * POJO handler does, so the record covers the reflective call, the JSON
 * reader and writer and the generic type lookups of that path.
 */
public final class Training {
    /** A handler class needs a public no-argument constructor. */
    public Training() {
    }

    /** Returns the event it was given. */
    public Map<String, Object> handle(Map<String, Object> event) {
        return event;
    }
}
