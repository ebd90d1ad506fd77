package ignis.training;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
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

    /** An interface of the training run's own, for a dynamic proxy. */
    public interface Named {
        /** A name. */
        String name();
    }

    /** Returns the event it was given, after making a dynamic proxy the way
     * the client wraps its context in a function's Context interface (from
     * aws-lambda-java-core), so that the JDK's proxy machinery is recorded
     * too. */
    public Map<String, Object> handle(Map<String, Object> event) {
        Named named = (Named) Proxy.newProxyInstance(Training.class.getClassLoader(), new Class<?>[] {Named.class},
                new InvocationHandler() {
                    @Override
                    public Object invoke(Object proxy, Method method, Object[] args) {
                        return method.getName();
                    }
                });
        if (!"name".equals(named.name())) {
            throw new IllegalStateException("the proxy did not answer");
        }
        return event;
    }
}
