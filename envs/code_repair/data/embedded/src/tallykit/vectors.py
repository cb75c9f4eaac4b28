"""Small dense vector and matrix helpers on plain lists (no numpy).

Vectors are ``list[float]``; matrices are lists of equally long rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Vector = Sequence[float]
Matrix = Sequence[Sequence[float]]
EPSILON = 1e-12


def _same_length(a: Vector, b: Vector) -> None:
    if len(a) != len(b):
        raise ValueError(f"vectors differ in length: {len(a)} and {len(b)}")


def dot(a: Vector, b: Vector) -> float:
    """The dot product."""
    _same_length(a, b)
    return sum(x * y for x, y in zip(a, b))


def add(a: Vector, b: Vector) -> list[float]:
    """Element-wise sum."""
    _same_length(a, b)
    return [x + y for x, y in zip(a, b)]


def subtract(a: Vector, b: Vector) -> list[float]:
    """Element-wise difference ``a - b``."""
    _same_length(a, b)
    return [x - y for x, y in zip(a, b)]


def scale(vector: Vector, factor: float) -> list[float]:
    """Every element times ``factor``."""
    return [x * factor for x in vector]


def norm(vector: Vector) -> float:
    """The Euclidean length."""
    return math.sqrt(dot(vector, vector))


def normalise(vector: Vector) -> list[float]:
    """The unit vector in the same direction; the zero vector raises ValueError."""
    length = norm(vector)
    if length < EPSILON:
        raise ValueError("cannot normalise the zero vector")
    return [x / length for x in vector]


def shape(matrix: Matrix) -> tuple[int, int]:
    """``(rows, columns)``; ragged rows raise ValueError; ``[]`` is ``(0, 0)``."""
    if not matrix:
        return 0, 0
    columns = len(matrix[0])
    for number, row in enumerate(matrix):
        if len(row) != columns:
            raise ValueError(f"row {number} has {len(row)} entries, expected {columns}")
    return len(matrix), columns


def identity(size: int) -> list[list[float]]:
    """The ``size`` x ``size`` identity matrix."""
    return [[1.0 if row == column else 0.0 for column in range(size)] for row in range(size)]


def transpose(matrix: Matrix) -> list[list[float]]:
    """Rows become columns."""
    rows, columns = shape(matrix)
    return [[matrix[row][column] for row in range(rows)] for column in range(columns)]


def matmul(a: Matrix, b: Matrix) -> list[list[float]]:
    """The matrix product ``a @ b``."""
    rows, inner = shape(a)
    inner_b, columns = shape(b)
    if inner != inner_b:
        raise ValueError(f"cannot multiply {rows}x{inner} by {inner_b}x{columns}")
    return [
        [sum(a[i][k] * b[k][j] for k in range(inner)) for j in range(columns)] for i in range(rows)
    ]


def mat_vec(matrix: Matrix, vector: Vector) -> list[float]:
    """The product of a matrix and a column vector."""
    rows, columns = shape(matrix)
    if columns != len(vector):
        raise ValueError(f"cannot multiply {rows}x{columns} by a vector of {len(vector)}")
    return [dot(row, vector) for row in matrix]


def trace(matrix: Matrix) -> float:
    """The sum of the diagonal of a square matrix."""
    rows, columns = shape(matrix)
    if rows != columns:
        raise ValueError(f"trace needs a square matrix, got {rows}x{columns}")
    return sum(matrix[i][i] for i in range(rows))


def determinant(matrix: Matrix) -> float:
    """The determinant, by Gaussian elimination with partial pivoting."""
    rows, columns = shape(matrix)
    if rows != columns:
        raise ValueError(f"determinant needs a square matrix, got {rows}x{columns}")
    work = [list(map(float, row)) for row in matrix]
    result = 1.0
    for column in range(rows):
        pivot = max(range(column, rows), key=lambda row: abs(work[row][column]))
        if abs(work[pivot][column]) < EPSILON:
            return 0.0
        if pivot != column:
            work[column], work[pivot] = work[pivot], work[column]
            result = -result
        result *= work[column][column]
        for row in range(column + 1, rows):
            factor = work[row][column] / work[column][column]
            for k in range(column, rows):
                work[row][k] -= factor * work[column][k]
    return result


def solve(matrix: Matrix, rhs: Vector) -> list[float]:
    """The ``x`` with ``matrix @ x == rhs``; a singular matrix raises ValueError."""
    rows, columns = shape(matrix)
    if rows != columns or rows != len(rhs):
        raise ValueError(f"solve needs a square system, got {rows}x{columns} and {len(rhs)}")
    work = [list(map(float, row)) + [float(value)] for row, value in zip(matrix, rhs)]
    for column in range(rows):
        pivot = max(range(column, rows), key=lambda row: abs(work[row][column]))
        if abs(work[pivot][column]) < EPSILON:
            raise ValueError("the matrix is singular")
        work[column], work[pivot] = work[pivot], work[column]
        for row in range(column + 1, rows):
            factor = work[row][column] / work[column][column]
            for k in range(column, rows + 1):
                work[row][k] -= factor * work[column][k]
    solution = [0.0] * rows
    for row in range(rows - 1, -1, -1):
        tail = sum(work[row][k] * solution[k] for k in range(row + 1, rows))
        solution[row] = (work[row][rows] - tail) / work[row][row]
    return solution


def mat_pow(matrix: Matrix, exponent: int) -> list[list[float]]:
    """``matrix`` to a non-negative integer power, by repeated squaring."""
    rows, columns = shape(matrix)
    if rows != columns:
        raise ValueError(f"powers need a square matrix, got {rows}x{columns}")
    if exponent < 0:
        raise ValueError(f"exponent must not be negative, got {exponent}")
    result = identity(rows)
    base = [list(map(float, row)) for row in matrix]
    while exponent > 0:
        if exponent % 2 == 1:
            result = matmul(result, base)
        base = matmul(base, base)
        exponent //= 2
    return result
