package ignis.training;

import java.util.Map;

/**
 * The handler of the class-data-sharing training run: Ignis runs the client
 * once per JDK with this handler to record the classes a cold start loads
 * (the client's and the JDK's) into a shared archive. It is Ignis's, never
 * a function's code: no function's classes are ever loaded while the
 * archive is recorded. It is not in the client's jar: the training run
 * loads it from its task root (the client's directory), the way a
 * function's handler loads from its code, so that the record covers the
 * class loader's directory path too. It takes and returns a map the way a
 * plain POJO handler does, so the record covers the reflective call, the
 * JSON reader and writer and the generic type lookups of that path.
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
