package ignis.runtime;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader producing a tree of LinkedHashMap, ArrayList, String,
 * Boolean, {@link Num} and null, and the string escaping of the writer.
 *
 * The reader is as lenient as the parser Lambda's Java serialization is
 * configured with: single-quoted strings, unquoted field names, NaN and
 * Infinity, leading zeros, unescaped control characters and backslash
 * escapes of any character are accepted.
 */
final class Json {
    private Json() {
    }

    /** A JSON number, kept as its text until a target type asks for it. */
    static final class Num {
        final String text;
        final boolean integral;

        Num(String text, boolean integral) {
            this.text = text;
            this.integral = integral;
        }

        /** Integer, Long or BigInteger for integers, Double otherwise: what
         * an untyped (Object) target receives. */
        Object natural() {
            if (integral) {
                String t = text;
                if (t.length() < 10) {
                    return Integer.valueOf(Integer.parseInt(t));
                }
                BigInteger big = new BigInteger(t);
                if (big.bitLength() < 32) {
                    return Integer.valueOf(big.intValue());
                }
                if (big.bitLength() < 64) {
                    return Long.valueOf(big.longValue());
                }
                return big;
            }
            return Double.valueOf(doubleValue());
        }

        double doubleValue() {
            switch (text) {
                case "NaN":
                    return Double.NaN;
                case "Infinity":
                case "+Infinity":
                    return Double.POSITIVE_INFINITY;
                case "-Infinity":
                    return Double.NEGATIVE_INFINITY;
                default:
                    return Double.parseDouble(text);
            }
        }

        BigDecimal bigDecimal() {
            return new BigDecimal(text);
        }

        BigInteger bigInteger() {
            if (integral) {
                return new BigInteger(text);
            }
            return bigDecimal().toBigInteger();
        }

        long longValue() {
            if (integral) {
                try {
                    return Long.parseLong(text);
                } catch (NumberFormatException e) {
                    return new BigInteger(text).longValue();
                }
            }
            return (long) doubleValue();
        }

        @Override
        public String toString() {
            return text;
        }
    }

    static final class ParseException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ParseException(String message) {
            super(message);
        }
    }

    // -- reading ----------------------------------------------------------------

    static Object parse(String text) {
        Reader r = new Reader(text);
        r.skipSpace();
        if (r.pos >= r.len) {
            return Reader.EMPTY;
        }
        Object value = r.value(0);
        r.skipSpace();
        return value;
    }

    /** True for the marker parse() returns for an empty or blank document. */
    static boolean isEmptyDocument(Object tree) {
        return tree == Reader.EMPTY;
    }

    private static final class Reader {
        static final Object EMPTY = new Object();
        final String s;
        final int len;
        int pos;

        Reader(String s) {
            this.s = s;
            this.len = s.length();
        }

        ParseException error(String what) {
            int line = 1;
            int col = 1;
            for (int i = 0; i < pos && i < len; i++) {
                if (s.charAt(i) == '\n') {
                    line++;
                    col = 1;
                } else {
                    col++;
                }
            }
            return new ParseException(what + " at line: " + line + ", column: " + col);
        }

        void skipSpace() {
            while (pos < len) {
                char c = s.charAt(pos);
                if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                    pos++;
                } else {
                    break;
                }
            }
        }

        Object value(int depth) {
            if (depth > 1000) {
                throw error("Maximum nesting depth exceeded");
            }
            skipSpace();
            if (pos >= len) {
                throw error("Unexpected end-of-input");
            }
            char c = s.charAt(pos);
            switch (c) {
                case '{':
                    return object(depth);
                case '[':
                    return array(depth);
                case '"':
                case '\'':
                    return string();
                case 't':
                    literal("true");
                    return Boolean.TRUE;
                case 'f':
                    literal("false");
                    return Boolean.FALSE;
                case 'n':
                    literal("null");
                    return null;
                case 'N':
                    literal("NaN");
                    return new Num("NaN", false);
                case 'I':
                    literal("Infinity");
                    return new Num("Infinity", false);
                default:
                    if (c == '-' || c == '+' || (c >= '0' && c <= '9') || c == '.') {
                        return number();
                    }
                    throw error("Unexpected character ('" + c + "' (code " + (int) c + "))");
            }
        }

        void literal(String word) {
            if (!s.startsWith(word, pos)) {
                throw error("Unrecognized token");
            }
            pos += word.length();
        }

        Map<String, Object> object(int depth) {
            pos++;
            Map<String, Object> map = new LinkedHashMap<String, Object>();
            skipSpace();
            if (pos < len && s.charAt(pos) == '}') {
                pos++;
                return map;
            }
            while (true) {
                skipSpace();
                if (pos >= len) {
                    throw error("Unexpected end-of-input: expected close marker for Object");
                }
                char c = s.charAt(pos);
                String key;
                if (c == '"' || c == '\'') {
                    key = string();
                } else {
                    int start = pos;
                    while (pos < len) {
                        char k = s.charAt(pos);
                        if (Character.isLetterOrDigit(k) || k == '_' || k == '$') {
                            pos++;
                        } else {
                            break;
                        }
                    }
                    if (start == pos) {
                        throw error("Unexpected character ('" + c + "' (code " + (int) c
                                + ")): was expecting double-quote to start field name");
                    }
                    key = s.substring(start, pos);
                }
                skipSpace();
                if (pos >= len || s.charAt(pos) != ':') {
                    throw error("Unexpected character: was expecting a colon to separate field name and value");
                }
                pos++;
                Object v = value(depth + 1);
                map.put(key, v);
                skipSpace();
                if (pos >= len) {
                    throw error("Unexpected end-of-input: expected close marker for Object");
                }
                c = s.charAt(pos++);
                if (c == ',') {
                    continue;
                }
                if (c == '}') {
                    return map;
                }
                pos--;
                throw error("Unexpected character ('" + c + "' (code " + (int) c
                        + ")): was expecting comma to separate Object entries");
            }
        }

        List<Object> array(int depth) {
            pos++;
            List<Object> list = new ArrayList<Object>();
            skipSpace();
            if (pos < len && s.charAt(pos) == ']') {
                pos++;
                return list;
            }
            while (true) {
                list.add(value(depth + 1));
                skipSpace();
                if (pos >= len) {
                    throw error("Unexpected end-of-input: expected close marker for Array");
                }
                char c = s.charAt(pos++);
                if (c == ',') {
                    continue;
                }
                if (c == ']') {
                    return list;
                }
                pos--;
                throw error("Unexpected character ('" + c + "' (code " + (int) c
                        + ")): was expecting comma to separate Array entries");
            }
        }

        String string() {
            char quote = s.charAt(pos++);
            int start = pos;
            // fast path: no escapes
            while (pos < len) {
                char c = s.charAt(pos);
                if (c == quote) {
                    String out = s.substring(start, pos);
                    pos++;
                    return out;
                }
                if (c == '\\') {
                    break;
                }
                pos++;
            }
            StringBuilder sb = new StringBuilder(pos - start + 16);
            sb.append(s, start, pos);
            while (pos < len) {
                char c = s.charAt(pos++);
                if (c == quote) {
                    return sb.toString();
                }
                if (c != '\\') {
                    sb.append(c);
                    continue;
                }
                if (pos >= len) {
                    break;
                }
                char e = s.charAt(pos++);
                switch (e) {
                    case 'n':
                        sb.append('\n');
                        break;
                    case 't':
                        sb.append('\t');
                        break;
                    case 'r':
                        sb.append('\r');
                        break;
                    case 'b':
                        sb.append('\b');
                        break;
                    case 'f':
                        sb.append('\f');
                        break;
                    case 'u':
                        if (pos + 4 > len) {
                            throw error("Unexpected end-of-input in character escape sequence");
                        }
                        try {
                            sb.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
                        } catch (NumberFormatException ex) {
                            throw error("Unexpected character in character escape sequence");
                        }
                        pos += 4;
                        break;
                    default:
                        sb.append(e);
                }
            }
            throw error("Unexpected end-of-input: was expecting closing quote for a string value");
        }

        Num number() {
            int start = pos;
            boolean integral = true;
            char c = s.charAt(pos);
            if (c == '-' || c == '+') {
                pos++;
                if (s.startsWith("Infinity", pos)) {
                    pos += 8;
                    return new Num(s.substring(start, pos), false);
                }
            }
            while (pos < len) {
                c = s.charAt(pos);
                if (c >= '0' && c <= '9') {
                    pos++;
                } else if (c == '.' || c == 'e' || c == 'E') {
                    integral = false;
                    pos++;
                } else if ((c == '-' || c == '+') && pos > start
                        && (s.charAt(pos - 1) == 'e' || s.charAt(pos - 1) == 'E')) {
                    pos++;
                } else {
                    break;
                }
            }
            String text = s.substring(start, pos);
            if (text.startsWith("+")) {
                text = text.substring(1);
            }
            // leading zeros are accepted, as by Lambda's parser
            String digits = text.startsWith("-") ? text.substring(1) : text;
            if (integral && digits.length() > 1 && digits.charAt(0) == '0') {
                String stripped = digits.replaceFirst("^0+(?=\\d)", "");
                text = text.startsWith("-") ? "-" + stripped : stripped;
            }
            if (digits.isEmpty() || digits.equals(".")) {
                throw error("Unexpected character: invalid numeric value");
            }
            try {
                if (!integral) {
                    new BigDecimal(text);
                }
            } catch (NumberFormatException ex) {
                throw error("Invalid numeric value: '" + text + "'");
            }
            return new Num(text, integral);
        }
    }

    // -- writing -----------------------------------------------------------------

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    /** Appends a JSON string literal: quotes, backslashes and control
     * characters escaped, everything else as is. */
    static void quote(StringBuilder sb, String s) {
        sb.append('"');
        int len = s.length();
        int run = 0;
        for (int i = 0; i < len; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c != '"' && c != '\\') {
                continue;
            }
            sb.append(s, run, i);
            run = i + 1;
            switch (c) {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                case '\n':
                    sb.append("\\n");
                    break;
                case '\r':
                    sb.append("\\r");
                    break;
                case '\t':
                    sb.append("\\t");
                    break;
                case '\b':
                    sb.append("\\b");
                    break;
                case '\f':
                    sb.append("\\f");
                    break;
                default:
                    sb.append("\\u00").append(HEX[(c >> 4) & 0xf]).append(HEX[c & 0xf]);
            }
        }
        sb.append(s, run, len);
        sb.append('"');
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2);
        quote(sb, s);
        return sb.toString();
    }
}
