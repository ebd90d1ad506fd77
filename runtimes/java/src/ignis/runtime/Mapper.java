package ignis.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Maps JSON to Java objects and back the way Lambda's Java runtime does
 * for POJO handlers (its serializer is a Jackson configured for Lambda):
 *
 * <ul>
 * <li>properties are JSON names from bean setters/getters with standard
 * bean naming ({@code setUserId} is {@code userId}, {@code setURL} is
 * {@code URL}), public fields, and record components; matching is
 * case-sensitive;</li>
 * <li>setters of any visibility are used, fields only when public (final
 * ones too); a private field with only a getter is not written;</li>
 * <li>unknown properties are ignored; {@code ""} and {@code []} read as null
 * for objects; a single value reads as a one-element array and a
 * one-element array as a single value; unknown enum names read as null;
 * null reads as 0/false for primitives; numbers and strings coerce into each
 * other;</li>
 * <li>null properties and null map values are left out of the output; NaN and infinities are
 * written as strings; byte[] as base64; dates as epoch milliseconds; enums by
 * name; other values by their getters (public {@code getX()}, and
 * {@code isX()} returning boolean) and public fields, in field declaration
 * order, then getter order.</li>
 * </ul>
 */
final class Mapper {
    private Mapper() {
    }

    static final class MappingException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        MappingException(String message) {
            super(message);
        }

        MappingException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    // =====================================================================
    // JSON tree -> Java
    // =====================================================================

    static Object read(String json, Type type) {
        Object tree = Json.parse(json);
        if (Json.isEmptyDocument(tree)) {
            // an empty payload maps to null, as with Jackson's readValue on
            // no content for the POJO serializer
            if (type instanceof Class && ((Class<?>) type).isPrimitive()) {
                return defaultPrimitive((Class<?>) type);
            }
            return null;
        }
        return convert(tree, type, null);
    }

    static Object convert(Object node, Type type, Map<TypeVariable<?>, Type> bindings) {
        if (type instanceof Class) {
            return toClass(node, (Class<?>) type, null, bindings);
        }
        if (type instanceof ParameterizedType) {
            ParameterizedType pt = (ParameterizedType) type;
            Class<?> raw = (Class<?>) pt.getRawType();
            return toClass(node, raw, pt.getActualTypeArguments(), bindings);
        }
        if (type instanceof GenericArrayType) {
            Type component = ((GenericArrayType) type).getGenericComponentType();
            return toArray(node, rawClass(component, bindings), component, bindings);
        }
        if (type instanceof WildcardType) {
            Type[] upper = ((WildcardType) type).getUpperBounds();
            return convert(node, upper.length > 0 ? upper[0] : Object.class, bindings);
        }
        if (type instanceof TypeVariable) {
            Type bound = bindings == null ? null : bindings.get(type);
            if (bound != null) {
                return convert(node, bound, null);
            }
            Type[] bounds = ((TypeVariable<?>) type).getBounds();
            return convert(node, bounds.length > 0 ? bounds[0] : Object.class, bindings);
        }
        return natural(node);
    }

    static Class<?> rawClass(Type type, Map<TypeVariable<?>, Type> bindings) {
        if (type instanceof Class) {
            return (Class<?>) type;
        }
        if (type instanceof ParameterizedType) {
            return (Class<?>) ((ParameterizedType) type).getRawType();
        }
        if (type instanceof GenericArrayType) {
            Class<?> c = rawClass(((GenericArrayType) type).getGenericComponentType(), bindings);
            return Array.newInstance(c, 0).getClass();
        }
        if (type instanceof WildcardType) {
            Type[] upper = ((WildcardType) type).getUpperBounds();
            return upper.length > 0 ? rawClass(upper[0], bindings) : Object.class;
        }
        if (type instanceof TypeVariable) {
            Type bound = bindings == null ? null : bindings.get(type);
            if (bound != null) {
                return rawClass(bound, null);
            }
            Type[] bounds = ((TypeVariable<?>) type).getBounds();
            return bounds.length > 0 ? rawClass(bounds[0], bindings) : Object.class;
        }
        return Object.class;
    }

    /** The untyped value of a node: maps, lists, strings, numbers, booleans. */
    static Object natural(Object node) {
        if (node instanceof Json.Num) {
            return ((Json.Num) node).natural();
        }
        if (node instanceof Map) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) node;
            for (Map.Entry<String, Object> e : m.entrySet()) {
                Object v = e.getValue();
                if (v instanceof Json.Num || v instanceof Map || v instanceof List) {
                    e.setValue(natural(v));
                }
            }
            return m;
        }
        if (node instanceof List) {
            @SuppressWarnings("unchecked")
            List<Object> l = (List<Object>) node;
            for (int i = 0; i < l.size(); i++) {
                Object v = l.get(i);
                if (v instanceof Json.Num || v instanceof Map || v instanceof List) {
                    l.set(i, natural(v));
                }
            }
            return l;
        }
        return node;
    }

    private static String kind(Object node) {
        if (node instanceof Map) {
            return "Object value (token `JsonToken.START_OBJECT`)";
        }
        if (node instanceof List) {
            return "Array value (token `JsonToken.START_ARRAY`)";
        }
        if (node instanceof String) {
            return "String value";
        }
        if (node instanceof Boolean) {
            return "Boolean value";
        }
        if (node instanceof Json.Num) {
            return ((Json.Num) node).integral ? "Integer value" : "Floating-point value";
        }
        return "value";
    }

    private static MappingException cannot(Class<?> c, Object node) {
        return new MappingException("Cannot deserialize value of type `" + c.getTypeName() + "` from " + kind(node));
    }

    static Object defaultPrimitive(Class<?> c) {
        if (c == boolean.class) {
            return Boolean.FALSE;
        }
        if (c == char.class) {
            return Character.valueOf('\0');
        }
        if (c == void.class) {
            return null;
        }
        return scalarNumber(new Json.Num("0", true), c);
    }

    private static Class<?> boxed(Class<?> c) {
        if (!c.isPrimitive()) {
            return c;
        }
        if (c == int.class) {
            return Integer.class;
        }
        if (c == long.class) {
            return Long.class;
        }
        if (c == double.class) {
            return Double.class;
        }
        if (c == float.class) {
            return Float.class;
        }
        if (c == boolean.class) {
            return Boolean.class;
        }
        if (c == short.class) {
            return Short.class;
        }
        if (c == byte.class) {
            return Byte.class;
        }
        if (c == char.class) {
            return Character.class;
        }
        return Void.class;
    }

    private static Object scalarNumber(Json.Num n, Class<?> c) {
        if (c == Integer.class) {
            return Integer.valueOf((int) n.longValue());
        }
        if (c == Long.class) {
            return Long.valueOf(n.longValue());
        }
        if (c == Double.class) {
            return Double.valueOf(n.doubleValue());
        }
        if (c == Float.class) {
            return Float.valueOf((float) n.doubleValue());
        }
        if (c == Short.class) {
            return Short.valueOf((short) n.longValue());
        }
        if (c == Byte.class) {
            return Byte.valueOf((byte) n.longValue());
        }
        if (c == BigDecimal.class) {
            return n.bigDecimal();
        }
        if (c == BigInteger.class) {
            return n.bigInteger();
        }
        return n.natural();
    }

    private static boolean isNumberClass(Class<?> c) {
        return c == Integer.class || c == Long.class || c == Double.class || c == Float.class
                || c == Short.class || c == Byte.class || c == BigDecimal.class || c == BigInteger.class
                || c == Number.class;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object toClass(Object node, Class<?> c, Type[] args, Map<TypeVariable<?>, Type> bindings) {
        if (c == Object.class) {
            return natural(node);
        }
        if (node == null) {
            return c.isPrimitive() ? defaultPrimitive(c) : (c == Optional.class ? Optional.empty() : null);
        }
        Class<?> b = boxed(c);
        // a one-element array stands for its element (UNWRAP_SINGLE_VALUE_ARRAYS)
        if (node instanceof List && !c.isArray() && !Collection.class.isAssignableFrom(c)
                && c != Optional.class && !Map.class.isAssignableFrom(c)) {
            List<Object> l = (List<Object>) node;
            if (l.size() == 1) {
                return toClass(l.get(0), c, args, bindings);
            }
            if (l.isEmpty() && !c.isPrimitive() && !isScalar(b)) {
                return null; // ACCEPT_EMPTY_ARRAY_AS_NULL_OBJECT
            }
            throw cannot(c, node);
        }
        if (b == String.class || b == CharSequence.class) {
            if (node instanceof String) {
                return node;
            }
            if (node instanceof Json.Num || node instanceof Boolean) {
                return node.toString();
            }
            throw cannot(c, node);
        }
        if (isNumberClass(b)) {
            if (node instanceof Json.Num) {
                return scalarNumber((Json.Num) node, b);
            }
            if (node instanceof String) {
                String s = ((String) node).trim();
                if (s.isEmpty()) {
                    return c.isPrimitive() ? defaultPrimitive(c) : null;
                }
                try {
                    boolean integral = s.indexOf('.') < 0 && s.indexOf('e') < 0 && s.indexOf('E') < 0
                            && !s.endsWith("Infinity") && !s.equals("NaN");
                    if (!s.equals("NaN") && !s.endsWith("Infinity")) {
                        new BigDecimal(s);
                    }
                    return scalarNumber(new Json.Num(s, integral), b);
                } catch (NumberFormatException e) {
                    throw new MappingException("Cannot deserialize value of type `" + c.getTypeName()
                            + "` from String \"" + node + "\": not a valid representation");
                }
            }
            if (node instanceof Boolean && (b == Integer.class || b == Long.class)) {
                return scalarNumber(new Json.Num(((Boolean) node) ? "1" : "0", true), b);
            }
            throw cannot(c, node);
        }
        if (b == Boolean.class) {
            if (node instanceof Boolean) {
                return node;
            }
            if (node instanceof String) {
                String s = ((String) node).trim();
                if (s.equalsIgnoreCase("true")) {
                    return Boolean.TRUE;
                }
                if (s.equalsIgnoreCase("false")) {
                    return Boolean.FALSE;
                }
                if (s.isEmpty()) {
                    return c.isPrimitive() ? Boolean.FALSE : null;
                }
            }
            if (node instanceof Json.Num && ((Json.Num) node).integral) {
                return Boolean.valueOf(!((Json.Num) node).text.equals("0"));
            }
            throw cannot(c, node);
        }
        if (b == Character.class) {
            if (node instanceof String && ((String) node).length() == 1) {
                return Character.valueOf(((String) node).charAt(0));
            }
            if (node instanceof Json.Num && ((Json.Num) node).integral) {
                return Character.valueOf((char) ((Json.Num) node).longValue());
            }
            throw cannot(c, node);
        }
        if (c.isEnum()) {
            Object[] constants = c.getEnumConstants();
            if (node instanceof String) {
                for (Object k : constants) {
                    if (((Enum<?>) k).name().equals(node)) {
                        return k;
                    }
                }
                return null; // READ_UNKNOWN_ENUM_VALUES_AS_NULL
            }
            if (node instanceof Json.Num && ((Json.Num) node).integral) {
                long i = ((Json.Num) node).longValue();
                return i >= 0 && i < constants.length ? constants[(int) i] : null;
            }
            throw cannot(c, node);
        }
        if (c == Optional.class) {
            Type inner = args != null && args.length == 1 ? args[0] : Object.class;
            return Optional.ofNullable(convert(node, inner, bindings));
        }
        if (c.isArray()) {
            if (c == byte[].class && node instanceof String) {
                try {
                    return Base64.getMimeDecoder().decode((String) node);
                } catch (IllegalArgumentException e) {
                    throw new MappingException("Cannot deserialize value of type `byte[]` from String: " + e.getMessage());
                }
            }
            if (c == char[].class && node instanceof String) {
                return ((String) node).toCharArray();
            }
            return toArray(node, c.getComponentType(), c.getComponentType(), bindings);
        }
        if (Map.class.isAssignableFrom(c)) {
            if (node instanceof String && ((String) node).isEmpty()) {
                return null;
            }
            if (!(node instanceof Map)) {
                throw cannot(c, node);
            }
            Type kt = args != null && args.length == 2 ? args[0] : Object.class;
            Type vt = args != null && args.length == 2 ? args[1] : Object.class;
            Map out = (Map) newContainer(c, true);
            for (Map.Entry<String, Object> e : ((Map<String, Object>) node).entrySet()) {
                out.put(mapKey(e.getKey(), kt, bindings), convert(e.getValue(), vt, bindings));
            }
            return out;
        }
        if (Collection.class.isAssignableFrom(c) || c == Iterable.class) {
            Type et = args != null && args.length == 1 ? args[0] : Object.class;
            Collection out = (Collection) newContainer(c, false);
            if (node instanceof List) {
                for (Object v : (List<Object>) node) {
                    out.add(convert(v, et, bindings));
                }
            } else if (node instanceof String && ((String) node).isEmpty()) {
                return null;
            } else {
                out.add(convert(node, et, bindings)); // ACCEPT_SINGLE_VALUE_AS_ARRAY
            }
            return out;
        }
        if (node instanceof String && ((String) node).isEmpty()) {
            return null; // ACCEPT_EMPTY_STRING_AS_NULL_OBJECT
        }
        if (c.isRecord()) {
            return toRecord(node, c, args, bindings);
        }
        if (c == java.util.UUID.class && node instanceof String) {
            return java.util.UUID.fromString((String) node);
        }
        if (c == java.util.Date.class) {
            if (node instanceof Json.Num) {
                return new java.util.Date(((Json.Num) node).longValue());
            }
            if (node instanceof String) {
                try {
                    return java.util.Date.from(java.time.Instant.parse((String) node));
                } catch (RuntimeException e) {
                    throw cannot(c, node);
                }
            }
        }
        if (!(node instanceof Map)) {
            // a class with a single-String constructor or valueOf takes a string
            if (node instanceof String) {
                Object v = fromString(c, (String) node);
                if (v != null) {
                    return v;
                }
            }
            throw new MappingException("Cannot construct instance of `" + c.getName()
                    + "` (although at least one Creator exists): no " + kind(node).split(" ")[0]
                    + "-argument constructor/factory method to deserialize from " + kind(node));
        }
        return toBean((Map<String, Object>) node, c, args, bindings);
    }

    private static boolean isScalar(Class<?> b) {
        return b == String.class || isNumberClass(b) || b == Boolean.class || b == Character.class;
    }

    private static Object fromString(Class<?> c, String s) {
        try {
            Constructor<?> k = c.getConstructor(String.class);
            return k.newInstance(s);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // try valueOf
        }
        try {
            Method m = c.getMethod("valueOf", String.class);
            if (Modifier.isStatic(m.getModifiers()) && c.isAssignableFrom(m.getReturnType())) {
                return m.invoke(null, s);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            // none
        }
        return null;
    }

    private static Object mapKey(String key, Type kt, Map<TypeVariable<?>, Type> bindings) {
        Class<?> k = rawClass(kt, bindings);
        if (k == Object.class || k == String.class || k == CharSequence.class) {
            return key;
        }
        return convert(key, kt, bindings);
    }

    private static Object newContainer(Class<?> c, boolean map) {
        if (!c.isInterface() && !Modifier.isAbstract(c.getModifiers())) {
            try {
                Constructor<?> k = c.getDeclaredConstructor();
                k.setAccessible(true);
                return k.newInstance();
            } catch (ReflectiveOperationException | RuntimeException e) {
                // fall back to a standard implementation
            }
        }
        if (map) {
            if (SortedMap.class.isAssignableFrom(c)) {
                return new TreeMap<Object, Object>();
            }
            return new LinkedHashMap<Object, Object>();
        }
        if (SortedSet.class.isAssignableFrom(c)) {
            return new TreeSet<Object>();
        }
        if (Set.class.isAssignableFrom(c)) {
            return new LinkedHashSet<Object>();
        }
        if (java.util.Deque.class.isAssignableFrom(c) || java.util.Queue.class.isAssignableFrom(c)) {
            return new java.util.ArrayDeque<Object>();
        }
        return new ArrayList<Object>();
    }

    @SuppressWarnings("unchecked")
    private static Object toArray(Object node, Class<?> component, Type generic, Map<TypeVariable<?>, Type> bindings) {
        List<Object> items;
        if (node instanceof List) {
            items = (List<Object>) node;
        } else if (node instanceof String && ((String) node).isEmpty()) {
            return null;
        } else {
            items = new ArrayList<Object>();
            items.add(node);
        }
        Object arr = Array.newInstance(component, items.size());
        for (int i = 0; i < items.size(); i++) {
            Array.set(arr, i, convert(items.get(i), generic, bindings));
        }
        return arr;
    }

    private static Map<TypeVariable<?>, Type> bind(Class<?> c, Type[] args, Map<TypeVariable<?>, Type> outer) {
        TypeVariable<?>[] vars = c.getTypeParameters();
        if (vars.length == 0 || args == null || args.length != vars.length) {
            return null;
        }
        Map<TypeVariable<?>, Type> m = new HashMap<TypeVariable<?>, Type>();
        for (int i = 0; i < vars.length; i++) {
            Type a = args[i];
            if (a instanceof TypeVariable && outer != null && outer.containsKey(a)) {
                a = outer.get(a);
            }
            m.put(vars[i], a);
        }
        return m;
    }

    private static Object toRecord(Object node, Class<?> c, Type[] args, Map<TypeVariable<?>, Type> bindings) {
        if (!(node instanceof Map)) {
            throw cannot(c, node);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) node;
        Map<TypeVariable<?>, Type> b = bind(c, args, bindings);
        RecordComponent[] comps = c.getRecordComponents();
        Class<?>[] types = new Class<?>[comps.length];
        Object[] values = new Object[comps.length];
        for (int i = 0; i < comps.length; i++) {
            types[i] = comps[i].getType();
            Object v = m.get(comps[i].getName());
            values[i] = convert(v, comps[i].getGenericType(), b);
        }
        try {
            Constructor<?> k = c.getDeclaredConstructor(types);
            k.setAccessible(true);
            return k.newInstance(values);
        } catch (InvocationTargetException e) {
            throw new MappingException("Cannot construct instance of `" + c.getName() + "`, problem: "
                    + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new MappingException("Cannot construct instance of `" + c.getName() + "`: " + e, e);
        }
    }

    private static Object toBean(Map<String, Object> node, Class<?> c, Type[] args, Map<TypeVariable<?>, Type> bindings) {
        if (c.isInterface() || Modifier.isAbstract(c.getModifiers())) {
            throw new MappingException("Cannot construct instance of `" + c.getName()
                    + "` (no Creators, like default constructor, exist): abstract types either need to be mapped"
                    + " to concrete types, have custom deserializer, or contain additional type information");
        }
        if (c.getEnclosingClass() != null && !Modifier.isStatic(c.getModifiers())) {
            throw new MappingException("Cannot construct instance of `" + c.getName()
                    + "`: non-static inner classes like this can only by instantiated using default, no-argument constructor");
        }
        Object bean;
        try {
            Constructor<?> k = c.getDeclaredConstructor();
            k.setAccessible(true);
            bean = k.newInstance();
        } catch (NoSuchMethodException e) {
            throw new MappingException("Cannot construct instance of `" + c.getName()
                    + "` (no Creators, like default constructor, exist): cannot deserialize from Object value"
                    + " (no delegate- or property-based Creator)");
        } catch (InvocationTargetException e) {
            throw new MappingException("Cannot construct instance of `" + c.getName() + "`, problem: "
                    + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new MappingException("Cannot construct instance of `" + c.getName() + "`: " + e, e);
        }
        Map<TypeVariable<?>, Type> b = bind(c, args, bindings);
        BeanInfo info = BeanInfo.of(c);
        for (Map.Entry<String, Object> e : node.entrySet()) {
            Object mutator = info.setters.get(e.getKey());
            if (mutator == null) {
                continue; // unknown properties are ignored
            }
            try {
                if (mutator instanceof Method) {
                    Method m = (Method) mutator;
                    Map<TypeVariable<?>, Type> mb = typeBindings(c, m.getDeclaringClass(), b);
                    Object v = convert(e.getValue(), m.getGenericParameterTypes()[0], mb);
                    m.invoke(bean, v);
                } else {
                    Field f = (Field) mutator;
                    Map<TypeVariable<?>, Type> mb = typeBindings(c, f.getDeclaringClass(), b);
                    Object v = convert(e.getValue(), f.getGenericType(), mb);
                    f.set(bean, v);
                }
            } catch (InvocationTargetException ex) {
                Throwable cause = ex.getCause() == null ? ex : ex.getCause();
                throw new MappingException("Problem deserializing property '" + e.getKey() + "' (of type "
                        + c.getName() + "): " + cause.getMessage(), cause);
            } catch (IllegalAccessException ex) {
                throw new MappingException("Problem deserializing property '" + e.getKey() + "' (of type "
                        + c.getName() + "): " + ex.getMessage(), ex);
            } catch (MappingException ex) {
                throw new MappingException(ex.getMessage() + " (through reference chain: " + c.getName()
                        + "[\"" + e.getKey() + "\"])", ex.getCause());
            }
        }
        return bean;
    }

    /** The bindings of the type variables of `declaring`, a superclass of
     * `c`, given those of `c`. */
    private static Map<TypeVariable<?>, Type> typeBindings(Class<?> c, Class<?> declaring, Map<TypeVariable<?>, Type> b) {
        if (declaring == c) {
            return b;
        }
        Map<TypeVariable<?>, Type> acc = b == null ? new HashMap<TypeVariable<?>, Type>() : new HashMap<TypeVariable<?>, Type>(b);
        Class<?> cur = c;
        while (cur != null && cur != declaring) {
            Type sup = cur.getGenericSuperclass();
            Class<?> supRaw = cur.getSuperclass();
            if (sup instanceof ParameterizedType) {
                Type[] a = ((ParameterizedType) sup).getActualTypeArguments();
                TypeVariable<?>[] vars = supRaw.getTypeParameters();
                for (int i = 0; i < vars.length && i < a.length; i++) {
                    Type t = a[i];
                    if (t instanceof TypeVariable && acc.containsKey(t)) {
                        t = acc.get(t);
                    }
                    acc.put(vars[i], t);
                }
            }
            cur = supRaw;
        }
        return acc;
    }

    // =====================================================================
    // Bean introspection
    // =====================================================================

    static final class Getter {
        final String name;
        final Method method;
        final Field field;

        Getter(String name, Method method, Field field) {
            this.name = name;
            this.method = method;
            this.field = field;
        }

        Object get(Object bean) throws ReflectiveOperationException {
            return method != null ? method.invoke(bean) : field.get(bean);
        }
    }

    static final class BeanInfo {
        private static final Map<Class<?>, BeanInfo> CACHE = new HashMap<Class<?>, BeanInfo>();
        /** name -> Method (setter) or Field */
        final Map<String, Object> setters = new HashMap<String, Object>();
        final List<Getter> getters = new ArrayList<Getter>();

        static synchronized BeanInfo of(Class<?> c) {
            BeanInfo info = CACHE.get(c);
            if (info == null) {
                info = new BeanInfo(c);
                CACHE.put(c, info);
            }
            return info;
        }

        private BeanInfo(Class<?> c) {
            List<Class<?>> chain = new ArrayList<Class<?>>();
            for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
                chain.add(0, k);
            }
            // ordering: fields (superclass first, declaration order)
            LinkedHashMap<String, Field> allFields = new LinkedHashMap<String, Field>();
            for (Class<?> k : chain) {
                for (Field f : k.getDeclaredFields()) {
                    int mod = f.getModifiers();
                    if (Modifier.isStatic(mod) || f.isSynthetic()) {
                        continue;
                    }
                    allFields.put(f.getName(), f);
                }
            }
            // setters: any visibility, subclass first
            for (int i = chain.size() - 1; i >= 0; i--) {
                for (Method m : chain.get(i).getDeclaredMethods()) {
                    String n = m.getName();
                    if (n.length() > 3 && n.startsWith("set") && m.getParameterCount() == 1
                            && !Modifier.isStatic(m.getModifiers()) && !m.isBridge() && !m.isSynthetic()) {
                        String prop = decapitalize(n.substring(3));
                        if (!setters.containsKey(prop)) {
                            trySetAccessible(m);
                            setters.put(prop, m);
                        }
                    }
                }
            }
            // public fields as mutators
            for (Field f : allFields.values()) {
                int mod = f.getModifiers();
                if (Modifier.isPublic(mod) && !Modifier.isTransient(mod) && !setters.containsKey(f.getName())) {
                    trySetAccessible(f);
                    setters.put(f.getName(), f);
                }
            }
            // getters: public getX()/isX() (boolean), then public fields
            LinkedHashMap<String, Method> getterMethods = new LinkedHashMap<String, Method>();
            for (Method m : c.getMethods()) {
                if (Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0 || m.isBridge()
                        || m.getDeclaringClass() == Object.class) {
                    continue;
                }
                String n = m.getName();
                Class<?> rt = m.getReturnType();
                String prop = null;
                if (n.length() > 3 && n.startsWith("get") && rt != void.class) {
                    prop = decapitalize(n.substring(3));
                } else if (n.length() > 2 && n.startsWith("is") && rt == boolean.class) {
                    prop = decapitalize(n.substring(2));
                }
                if (prop != null && !getterMethods.containsKey(prop)) {
                    getterMethods.put(prop, m);
                }
            }
            LinkedHashMap<String, Getter> ordered = new LinkedHashMap<String, Getter>();
            for (Field f : allFields.values()) {
                Method m = getterMethods.get(f.getName());
                if (m != null) {
                    trySetAccessible(m);
                    ordered.put(f.getName(), new Getter(f.getName(), m, null));
                } else if (Modifier.isPublic(f.getModifiers()) && !Modifier.isTransient(f.getModifiers())) {
                    trySetAccessible(f);
                    ordered.put(f.getName(), new Getter(f.getName(), null, f));
                }
            }
            for (Map.Entry<String, Method> e : getterMethods.entrySet()) {
                if (!ordered.containsKey(e.getKey())) {
                    trySetAccessible(e.getValue());
                    ordered.put(e.getKey(), new Getter(e.getKey(), e.getValue(), null));
                }
            }
            getters.addAll(ordered.values());
        }
    }

    private static void trySetAccessible(java.lang.reflect.AccessibleObject o) {
        try {
            o.setAccessible(true);
        } catch (RuntimeException e) {
            // public members of public classes work without it
        }
    }

    /** java.beans.Introspector.decapitalize, without loading java.desktop. */
    static String decapitalize(String name) {
        if (name.isEmpty()) {
            return name;
        }
        if (name.length() > 1 && Character.isUpperCase(name.charAt(1)) && Character.isUpperCase(name.charAt(0))) {
            return name;
        }
        char[] chars = name.toCharArray();
        chars[0] = Character.toLowerCase(chars[0]);
        return new String(chars);
    }

    // =====================================================================
    // Java -> JSON
    // =====================================================================

    static String write(Object value) {
        StringBuilder sb = new StringBuilder(256);
        write(sb, value, new IdentityHashMap<Object, Boolean>(), 0);
        return sb.toString();
    }

    private static void writeDouble(StringBuilder sb, double d, boolean isFloat, float f) {
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            sb.append('"').append(isFloat ? Float.toString(f) : Double.toString(d)).append('"');
        } else {
            sb.append(isFloat ? Float.toString(f) : Double.toString(d));
        }
    }

    @SuppressWarnings("rawtypes")
    private static void write(StringBuilder sb, Object v, IdentityHashMap<Object, Boolean> active, int depth) {
        if (v == null) {
            sb.append("null");
            return;
        }
        if (depth > 1000) {
            throw new MappingException("Document nesting depth exceeds the maximum allowed (1000)");
        }
        if (v instanceof String) {
            Json.quote(sb, (String) v);
            return;
        }
        if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short
                || v instanceof Byte || v instanceof BigInteger || v instanceof BigDecimal
                || v instanceof java.util.concurrent.atomic.AtomicInteger
                || v instanceof java.util.concurrent.atomic.AtomicLong) {
            sb.append(v.toString());
            return;
        }
        if (v instanceof Double) {
            writeDouble(sb, (Double) v, false, 0f);
            return;
        }
        if (v instanceof Float) {
            writeDouble(sb, (Float) v, true, (Float) v);
            return;
        }
        if (v instanceof Character || v instanceof CharSequence) {
            Json.quote(sb, v.toString());
            return;
        }
        if (v instanceof Enum) {
            Json.quote(sb, ((Enum<?>) v).name());
            return;
        }
        if (v instanceof Optional) {
            Optional<?> o = (Optional<?>) v;
            write(sb, o.isPresent() ? o.get() : null, active, depth + 1);
            return;
        }
        // Maps and collections first: none of the value types below is one,
        // and a handler's map or list result then does not load them all
        // (java.time, UUID, URI, Currency, ...) at its first response.
        if (!(v instanceof Map) && !(v instanceof java.util.Collection) && writeValueType(sb, v)) {
            return;
        }
        if (active.containsKey(v)) {
            throw new MappingException("Direct self-reference leading to cycle");
        }
        active.put(v, Boolean.TRUE);
        try {
            if (v instanceof Map) {
                sb.append('{');
                boolean first = true;
                for (Object o : ((Map) v).entrySet()) {
                    Map.Entry e = (Map.Entry) o;
                    if (e.getValue() == null) {
                        continue; // Include.NON_NULL covers map values too
                    }
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    Object k = e.getKey();
                    Json.quote(sb, k instanceof Enum ? ((Enum<?>) k).name() : String.valueOf(k));
                    sb.append(':');
                    write(sb, e.getValue(), active, depth + 1);
                }
                sb.append('}');
                return;
            }
            if (v instanceof Iterable) {
                sb.append('[');
                boolean first = true;
                for (Iterator it = ((Iterable) v).iterator(); it.hasNext();) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    write(sb, it.next(), active, depth + 1);
                }
                sb.append(']');
                return;
            }
            if (v.getClass().isArray()) {
                sb.append('[');
                int n = Array.getLength(v);
                for (int i = 0; i < n; i++) {
                    if (i > 0) {
                        sb.append(',');
                    }
                    write(sb, Array.get(v, i), active, depth + 1);
                }
                sb.append(']');
                return;
            }
            Class<?> c = v.getClass();
            sb.append('{');
            boolean first = true;
            if (c.isRecord()) {
                for (RecordComponent rc : c.getRecordComponents()) {
                    Method m = rc.getAccessor();
                    trySetAccessible(m);
                    Object pv = invokeGetter(m, v, c, rc.getName());
                    if (pv == null) {
                        continue;
                    }
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    Json.quote(sb, rc.getName());
                    sb.append(':');
                    write(sb, pv, active, depth + 1);
                }
            } else {
                for (Getter g : BeanInfo.of(c).getters) {
                    Object pv;
                    if (g.method != null) {
                        pv = invokeGetter(g.method, v, c, g.name);
                    } else {
                        try {
                            pv = g.field.get(v);
                        } catch (IllegalAccessException e) {
                            throw new MappingException("Failed to read property '" + g.name + "': " + e.getMessage(), e);
                        }
                    }
                    if (pv == null) {
                        continue; // Include.NON_NULL
                    }
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    Json.quote(sb, g.name);
                    sb.append(':');
                    write(sb, pv, active, depth + 1);
                }
            }
            sb.append('}');
        } finally {
            active.remove(v);
        }
    }

    /** Writes a value of the types written as a scalar (dates, numbers,
     * UUID, URI, ...); false for any other value. */
    private static boolean writeValueType(StringBuilder sb, Object v) {
        if (v instanceof java.util.Date) {
            sb.append(((java.util.Date) v).getTime());
            return true;
        }
        if (v instanceof java.util.Calendar) {
            sb.append(((java.util.Calendar) v).getTimeInMillis());
            return true;
        }
        if (v instanceof java.util.UUID || v instanceof java.net.URI || v instanceof java.net.URL
                || v instanceof java.util.Locale || v instanceof java.util.Currency
                || v instanceof java.util.regex.Pattern || v instanceof java.nio.charset.Charset
                || v instanceof java.time.temporal.TemporalAccessor || v instanceof java.time.Duration
                || v instanceof java.time.Period || v instanceof java.time.ZoneId) {
            Json.quote(sb, v.toString());
            return true;
        }
        if (v instanceof Class) {
            Json.quote(sb, ((Class<?>) v).getName());
            return true;
        }
        if (v instanceof java.io.File) {
            Json.quote(sb, ((java.io.File) v).getAbsolutePath());
            return true;
        }
        if (v instanceof byte[]) {
            sb.append('"').append(Base64.getEncoder().encodeToString((byte[]) v)).append('"');
            return true;
        }
        if (v instanceof char[]) {
            Json.quote(sb, new String((char[]) v));
            return true;
        }
        if (v instanceof Number) {
            sb.append(v.toString());
            return true;
        }
        return false;
    }

    private static Object invokeGetter(Method m, Object bean, Class<?> c, String name) {
        try {
            return m.invoke(bean);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new MappingException(cause.getClass().getName() + " (through reference chain: " + c.getName()
                    + "[\"" + name + "\"])", cause);
        } catch (IllegalAccessException e) {
            throw new MappingException("Failed to read property '" + name + "': " + e.getMessage(), e);
        }
    }
}
