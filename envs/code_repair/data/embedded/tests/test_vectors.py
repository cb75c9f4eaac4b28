import math

import pytest

from tallykit.vectors import (
    add,
    determinant,
    dot,
    identity,
    mat_pow,
    mat_vec,
    matmul,
    norm,
    normalise,
    scale,
    shape,
    solve,
    subtract,
    trace,
    transpose,
)


def test_dot_and_length_check():
    assert dot([1, 2, 3], [4, 5, 6]) == 32
    assert dot([], []) == 0
    with pytest.raises(ValueError):
        dot([1], [1, 2])


def test_add_subtract_scale():
    assert add([1, 2], [3, 5]) == [4, 7]
    assert subtract([1, 2], [3, 5]) == [-2, -3]
    assert scale([1, -2], 3) == [3, -6]
    with pytest.raises(ValueError):
        subtract([1, 2], [1])


def test_norm_and_normalise():
    assert norm([3, 4]) == 5
    assert normalise([0, 3, 4]) == pytest.approx([0, 0.6, 0.8])
    with pytest.raises(ValueError):
        normalise([0, 0])


def test_shape():
    assert shape([[1, 2, 3], [4, 5, 6]]) == (2, 3)
    assert shape([]) == (0, 0)
    with pytest.raises(ValueError):
        shape([[1, 2], [3]])


def test_identity_and_transpose():
    assert identity(2) == [[1, 0], [0, 1]]
    assert transpose([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]


def test_matmul():
    a = [[1, 2], [3, 4]]
    b = [[5, 6], [7, 8]]
    assert matmul(a, b) == [[19, 22], [43, 50]]
    assert matmul([[1, 2, 3]], [[1], [2], [3]]) == [[14]]
    with pytest.raises(ValueError):
        matmul([[1, 2]], [[1, 2]])


def test_mat_vec_and_trace():
    assert mat_vec([[1, 2], [3, 4]], [1, 1]) == [3, 7]
    with pytest.raises(ValueError):
        mat_vec([[1, 2]], [1])
    assert trace([[1, 2], [3, 4]]) == 5
    with pytest.raises(ValueError):
        trace([[1, 2]])


def test_determinant():
    assert determinant([[4]]) == 4
    assert determinant([[1, 2], [3, 4]]) == pytest.approx(-2)
    assert determinant([[2, 0, 1], [1, 3, 2], [1, 1, 2]]) == pytest.approx(6)
    assert determinant([[1, 2], [2, 4]]) == 0


def test_determinant_with_row_swap():
    assert determinant([[0, 1], [1, 0]]) == pytest.approx(-1)
    assert determinant([[0, 2, 0], [0, 0, 3], [4, 0, 0]]) == pytest.approx(24)


def test_determinant_needs_square():
    with pytest.raises(ValueError):
        determinant([[1, 2, 3], [4, 5, 6]])


def test_solve():
    solution = solve([[2, 1], [1, 3]], [3, 5])
    assert solution == pytest.approx([0.8, 1.4])
    assert solve([[0, 1], [1, 0]], [2, 3]) == pytest.approx([3, 2])


def test_solve_three_by_three():
    matrix = [[1, 1, 1], [0, 2, 5], [2, 5, -1]]
    assert solve(matrix, [6, -4, 27]) == pytest.approx([5, 3, -2])


def test_solve_singular_and_shape_errors():
    with pytest.raises(ValueError):
        solve([[1, 2], [2, 4]], [1, 2])
    with pytest.raises(ValueError):
        solve([[1, 2], [3, 4]], [1])


def test_mat_pow():
    fib = [[1, 1], [1, 0]]
    assert mat_pow(fib, 0) == identity(2)
    assert mat_pow(fib, 1) == fib
    assert mat_pow(fib, 10)[0][1] == 55
    assert mat_pow(fib, 7) == matmul(mat_pow(fib, 3), mat_pow(fib, 4))
    with pytest.raises(ValueError):
        mat_pow(fib, -1)


def test_rotation_preserves_norm():
    angle = 0.3
    rotation = [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    assert norm(mat_vec(rotation, [3, 4])) == pytest.approx(5)
