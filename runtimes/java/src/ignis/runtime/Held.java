package ignis.runtime;

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodType;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A JVM started held (Ignis's prestarted runtimes, {@code --prewarm}; see
 * docs/runtimes.md, "How Java starts"): the JVM and this client start
 * before the function is known, in a sandbox without its code, with only
 * the variables start-up reads, and wait. The server starts it with
 * {@code JDK_JAVA_OPTIONS} naming this property and the options the C
 * library's functions need (the foreign function API: an incubator module
 * on JDK 17, final from JDK 22), and the sandbox's init puts
 * {@code /dev/null} on its stderr, keeping the log's pipe at
 * {@link #PARKED_STDERR}: the launcher's and the module system's notes
 * about those options are not the function's.
 *
 * <p>Specialized, it completes the process as if it had been started for
 * the function: the rest of the environment is read from stdin
 * ({@code KEY=value}, NUL-terminated, to its end), stdin then reads
 * {@code /dev/null}; the variables go into the C library's environment
 * before anything of the JDK has read it ({@code System.getenv} takes its
 * snapshot on first use, which is after this), the two of the held start
 * are removed, the working directory is entered again (the function's code
 * is mounted over the directory the JVM started in) and stderr is the
 * log's. Everything that can fail is done and tried before waiting: a held
 * JVM that cannot do it exits, and the server starts the function afresh.
 */
final class Held {
    private Held() {
    }

    /** The system property that says the JVM was started held. */
    static final String PROPERTY = "ignis.held";
    /** Where the sandbox keeps the log's pipe while stderr is /dev/null. */
    static final int PARKED_STDERR = 3;
    private static final String SPECIALIZE_VAR = "_IGNIS_SPECIALIZE_FD";
    private static final String LAUNCHER_OPTIONS = "JDK_JAVA_OPTIONS";
    private static final int O_RDWR = 2;

    static boolean held() {
        return System.getProperty(PROPERTY) != null;
    }

    /** Waits for the function and becomes its process; exits when it cannot. */
    static void specialize() {
        Libc libc;
        try {
            libc = Libc.load();
            libc.tryOut();
        } catch (Throwable t) {
            // Nothing of a function is here yet: end, and the server
            // launches the function afresh.
            System.exit(70);
            return;
        }
        Map<String, String> given;
        try {
            given = parse(readAll(new FileInputStream(FileDescriptor.in)));
        } catch (IOException e) {
            System.exit(71);
            return;
        }
        try {
            int fd = libc.open("/dev/null", O_RDWR);
            libc.dup2(fd, 0);
            libc.close(fd);
            libc.unsetenv(SPECIALIZE_VAR);
            libc.unsetenv(LAUNCHER_OPTIONS);
            for (Map.Entry<String, String> e : given.entrySet()) {
                libc.setenv(e.getKey(), e.getValue());
            }
            String root = given.get("LAMBDA_TASK_ROOT");
            libc.chdir(root == null || root.isEmpty() ? "/var/task" : root);
            libc.dup2(PARKED_STDERR, 2);
            libc.close(PARKED_STDERR);
        } catch (Throwable t) {
            System.exit(72);
            return;
        }
        System.clearProperty(PROPERTY);
        // What HotSpot says on stderr as it starts with the function's
        // options, which a held start said to /dev/null.
        for (String name : new String[] {"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"}) {
            String value = given.get(name);
            if (value != null) {
                System.err.println("Picked up " + name + ": " + value);
            }
        }
    }

    private static byte[] readAll(FileInputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) >= 0) {
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    static Map<String, String> parse(byte[] raw) {
        Map<String, String> vars = new LinkedHashMap<String, String>();
        int start = 0;
        for (int i = 0; i <= raw.length; i++) {
            if (i == raw.length || raw[i] == 0) {
                String entry = new String(raw, start, i - start, StandardCharsets.UTF_8);
                int eq = entry.indexOf('=');
                if (eq > 0) {
                    vars.put(entry.substring(0, eq), entry.substring(eq + 1));
                }
                start = i + 1;
            }
        }
        return vars;
    }

    /**
     * The C library's functions a specialization calls, through whichever
     * foreign function API this JDK has (by reflection: the client is
     * compiled once, by any JDK, and runs on others).
     */
    static final class Libc {
        private final Api api;
        private final MethodHandle setenv;
        private final MethodHandle unsetenv;
        private final MethodHandle chdir;
        private final MethodHandle open;
        private final MethodHandle dup2;
        private final MethodHandle close;

        private Libc(Api api) throws Throwable {
            this.api = api;
            setenv = api.handle("setenv", 2, 1);
            unsetenv = api.handle("unsetenv", 1, 0);
            chdir = api.handle("chdir", 1, 0);
            open = api.handle("open", 1, 1);
            dup2 = api.handle("dup2", 0, 2);
            close = api.handle("close", 0, 1);
        }

        static Libc load() throws Throwable {
            return new Libc(Runtime.version().feature() >= 22 ? new Final() : new Incubator());
        }

        /** Every function once, harmlessly: a handle that cannot be
         * called fails here, while held. */
        void tryOut() throws Throwable {
            setenv("_IGNIS_HELD_PROBE", "1");
            unsetenv("_IGNIS_HELD_PROBE");
            chdir(".");
            close(open("/dev/null", O_RDWR));
            int fd = dup2(PARKED_STDERR, PARKED_STDERR);
            if (fd != PARKED_STDERR) {
                throw new IllegalStateException("no log pipe at " + PARKED_STDERR);
            }
        }

        private static int checked(String what, Object result) {
            int r = (Integer) result;
            if (r < 0) {
                throw new IllegalStateException(what + " failed");
            }
            return r;
        }

        void setenv(String key, String value) throws Throwable {
            checked("setenv", setenv.invokeWithArguments(api.string(key), api.string(value), 1));
        }

        void unsetenv(String key) throws Throwable {
            checked("unsetenv", unsetenv.invokeWithArguments(api.string(key)));
        }

        void chdir(String dir) throws Throwable {
            checked("chdir " + dir, chdir.invokeWithArguments(api.string(dir)));
        }

        int open(String path, int flags) throws Throwable {
            return checked("open " + path, open.invokeWithArguments(api.string(path), flags));
        }

        int dup2(int from, int to) throws Throwable {
            return checked("dup2", dup2.invokeWithArguments(from, to));
        }

        void close(int fd) throws Throwable {
            checked("close", close.invokeWithArguments(fd));
        }
    }

    /** One JDK's foreign function API: downcall handles returning int. */
    abstract static class Api {
        private Object intLayout;
        private Object pointerLayout;
        private Class<?> pointerType;
        private Class<?> layoutType;
        private Method describe;
        private Object lookup;
        private Method find;

        /** What every handle is made with: the API's C int and pointer
         * layouts, the Java type of a pointer argument, its function
         * descriptor's factory, and the C library's symbols with the
         * method that finds one (answering an Optional). */
        void uses(Object intLayout, Object pointerLayout, Class<?> pointerType, Class<?> layoutType,
                Class<?> descriptorType, Object lookup, Method find) throws NoSuchMethodException {
            this.intLayout = intLayout;
            this.pointerLayout = pointerLayout;
            this.pointerType = pointerType;
            this.layoutType = layoutType;
            describe = descriptorType.getMethod("of", layoutType, layoutType.arrayType());
            this.lookup = lookup;
            this.find = find;
        }

        /** A handle of {@code name} taking {@code pointers} C strings, then
         * {@code ints} ints, returning an int. */
        MethodHandle handle(String name, int pointers, int ints) throws Throwable {
            Object layouts = Array.newInstance(layoutType, pointers + ints);
            Class<?>[] params = new Class<?>[pointers + ints];
            for (int i = 0; i < params.length; i++) {
                Array.set(layouts, i, i < pointers ? pointerLayout : intLayout);
                params[i] = i < pointers ? pointerType : int.class;
            }
            Object symbol = ((Optional<?>) find.invoke(lookup, name)).orElseThrow();
            Object descriptor = describe.invoke(null, intLayout, layouts);
            return downcall(symbol, descriptor, MethodType.methodType(int.class, params));
        }

        /** A downcall handle of {@code symbol}. */
        abstract MethodHandle downcall(Object symbol, Object descriptor, MethodType type) throws Throwable;

        /** A NUL-terminated copy of {@code s} for a call (never freed: a
         * specialization passes a few kilobytes once). */
        abstract Object string(String s) throws Throwable;
    }

    /** JDK 17's {@code jdk.incubator.foreign}. */
    static final class Incubator extends Api {
        private final Object linker;
        private final Method downcall;
        private final Method toCString;
        private final Method address;
        private final Object scope;

        Incubator() throws Throwable {
            Class<?> linkerType = Class.forName("jdk.incubator.foreign.CLinker");
            Class<?> descriptorType = Class.forName("jdk.incubator.foreign.FunctionDescriptor");
            Class<?> scopeType = Class.forName("jdk.incubator.foreign.ResourceScope");
            uses(linkerType.getField("C_INT").get(null), linkerType.getField("C_POINTER").get(null),
                    Class.forName("jdk.incubator.foreign.MemoryAddress"),
                    Class.forName("jdk.incubator.foreign.MemoryLayout"), descriptorType,
                    linkerType.getMethod("systemLookup").invoke(null),
                    Class.forName("jdk.incubator.foreign.SymbolLookup").getMethod("lookup", String.class));
            linker = linkerType.getMethod("getInstance").invoke(null);
            downcall = linkerType.getMethod("downcallHandle",
                    Class.forName("jdk.incubator.foreign.Addressable"), MethodType.class, descriptorType);
            toCString = linkerType.getMethod("toCString", String.class, scopeType);
            address = Class.forName("jdk.incubator.foreign.MemorySegment").getMethod("address");
            scope = scopeType.getMethod("globalScope").invoke(null);
        }

        @Override
        MethodHandle downcall(Object symbol, Object descriptor, MethodType type) throws Throwable {
            return (MethodHandle) downcall.invoke(linker, symbol, type, descriptor);
        }

        @Override
        Object string(String s) throws Throwable {
            return address.invoke(toCString.invoke(null, s, scope));
        }
    }

    /** The final {@code java.lang.foreign} of JDK 22 and later. */
    static final class Final extends Api {
        private final Object linker;
        private final Object noOptions;
        private final Method downcall;
        private final Method allocate;
        private final Object arena;

        Final() throws Throwable {
            Class<?> linkerType = Class.forName("java.lang.foreign.Linker");
            Class<?> descriptorType = Class.forName("java.lang.foreign.FunctionDescriptor");
            Class<?> valueLayout = Class.forName("java.lang.foreign.ValueLayout");
            Class<?> optionType = Class.forName("java.lang.foreign.Linker$Option");
            Class<?> segmentType = Class.forName("java.lang.foreign.MemorySegment");
            linker = linkerType.getMethod("nativeLinker").invoke(null);
            uses(valueLayout.getField("JAVA_INT").get(null), valueLayout.getField("ADDRESS").get(null),
                    segmentType, Class.forName("java.lang.foreign.MemoryLayout"), descriptorType,
                    linkerType.getMethod("defaultLookup").invoke(linker),
                    Class.forName("java.lang.foreign.SymbolLookup").getMethod("find", String.class));
            noOptions = Array.newInstance(optionType, 0);
            downcall = linkerType.getMethod("downcallHandle", segmentType, descriptorType, optionType.arrayType());
            arena = Class.forName("java.lang.foreign.Arena").getMethod("global").invoke(null);
            allocate = Class.forName("java.lang.foreign.SegmentAllocator").getMethod("allocateFrom", String.class);
        }

        @Override
        MethodHandle downcall(Object symbol, Object descriptor, MethodType type) throws Throwable {
            // The handle's type follows from the descriptor.
            return (MethodHandle) downcall.invoke(linker, symbol, descriptor, noOptions);
        }

        @Override
        Object string(String s) throws Throwable {
            return allocate.invoke(arena, s);
        }
    }
}
