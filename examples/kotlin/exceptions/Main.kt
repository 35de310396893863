// Kotlin exceptions, which Kotlin/Wasm compiles to Wasm exception handling (try_table,
// throw, throw_ref), and the errors that end a program. Argument: a case:
// `catch` (throws caught across frames, finally blocks, rethrow, custom exception types,
// try as an expression), or one that ends the program: `uncaught` (an exception nobody
// catches), `index` (an array index out of bounds), `null` (`!!` on null), `cast` (a bad
// `as`), `div` (integer division by zero), `stack` (unbounded recursion).

class ParseError(val position: Int, message: String) : Exception(message)

class Resource(val name: String, val log: StringBuilder) {
    fun close() {
        log.append("close($name) ")
    }
}

fun parseDigit(s: String, at: Int): Int {
    val c = s[at]
    if (c !in '0'..'9') throw ParseError(at, "not a digit: '$c'")
    return c - '0'
}

/** Recursion whose every frame has a finally; the throw happens at the bottom. */
fun sumDigits(s: String, at: Int, log: StringBuilder): Int {
    if (at == s.length) return 0
    val r = Resource("f$at", log)
    try {
        return parseDigit(s, at) + sumDigits(s, at + 1, log)
    } finally {
        r.close()
    }
}

fun depthThrow(n: Int): Int = if (n == 0) throw IllegalStateException("bottom reached") else 1 + depthThrow(n - 1)

fun rethrowing(n: Int): Int {
    try {
        return depthThrow(n)
    } catch (e: IllegalStateException) {
        throw RuntimeException("wrapped at $n", e)
    }
}

fun catchCase() {
    for (input in listOf("1234", "12x4", "")) {
        val log = StringBuilder()
        val result = try {
            "sum ${sumDigits(input, 0, log)}"
        } catch (e: ParseError) {
            "ParseError at ${e.position}: ${e.message}"
        }
        println("\"$input\": $result; $log")
    }
    try {
        rethrowing(50)
    } catch (e: RuntimeException) {
        println("caught ${e::class.simpleName}: ${e.message}, cause ${e.cause!!::class.simpleName}: ${e.cause!!.message}")
    }
    var caught = 0
    var finallies = 0
    for (i in 0 until 10000) {
        try {
            try {
                if (i % 3 == 0) throw ArithmeticException("i=$i")
                if (i % 3 == 1) error("state $i")
            } finally {
                finallies++
            }
        } catch (e: ArithmeticException) {
            caught += 1
        } catch (e: IllegalStateException) {
            caught += 100
        }
    }
    println("loop: caught $caught, finally blocks $finallies")
    val parsed = listOf("10", "x", "30", "-").map { it.toIntOrNull() ?: runCatching { it.toInt() }.fold({ 0 }, { e -> -e.message!!.length }) }
    println("runCatching: $parsed")
    val arr = IntArray(4)
    val outOfBounds = try {
        arr[arr.size + 1] = 1
        "no exception"
    } catch (e: IndexOutOfBoundsException) {
        "IndexOutOfBoundsException"
    } catch (e: Throwable) {
        "other: ${e::class.simpleName}"
    }
    println("list index out of bounds: ${try { listOf(1, 2)[5]; "none" } catch (e: IndexOutOfBoundsException) { "caught" }}")
    println("array index out of bounds: $outOfBounds")
    val npe = try {
        val s: String? = if (arr.size > 10) "x" else null
        s!!.length
    } catch (e: NullPointerException) {
        -1
    }
    println("null pointer: $npe")
    val cce = try {
        val any: Any = if (arr.size > 10) 1 else "str"
        (any as Int) + 1
    } catch (e: ClassCastException) {
        -2
    }
    println("class cast: $cce")
    val div = try {
        val zero = arr.size - 4
        10 / zero
    } catch (e: ArithmeticException) {
        println("division: ${e::class.simpleName}: ${e.message}")
        -3
    }
    println("division result: $div")
    println("done")
}

fun recurse(n: Int): Int = if (n < 0) 0 else 1 + recurse(n + 1) + recurse(n + 2)

fun main() {
    val case = programArgs().getOrNull(0) ?: "catch"
    val zeroLike = case.length - case.length
    when (case) {
        "catch" -> catchCase()
        "uncaught" -> {
            println("before the throw")
            depthThrow(3)
        }
        "index" -> {
            val a = IntArray(3)
            println("before the access")
            a[a.size + 2 + zeroLike] = 5
            println("after the access: ${a.sum()}")
        }
        "null" -> {
            val s: String? = if (case.length > 10) "long" else null
            println("before !!")
            println(s!!.length)
        }
        "cast" -> {
            val any: Any = if (case.length > 10) 1 else "four"
            println("before the cast")
            println((any as Int) + 1)
        }
        "div" -> {
            println("before the division")
            println(7 / zeroLike)
        }
        "stack" -> {
            println("before the recursion")
            println(recurse(0))
        }
        else -> println("unknown case $case")
    }
}
