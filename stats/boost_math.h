// Boost.Math, set up once for the whole project (stats/ and sim/ include it from here): its
// functions return NaN or ±inf instead of throwing on a domain error or overflow, so no exception
// leaves stats/ (callers check the inputs and report a Reason). Every stats .cc includes Boost.Math
// through here, so that all of them use the same policy.
#pragma once

#define BOOST_MATH_DOMAIN_ERROR_POLICY ignore_error
#define BOOST_MATH_POLE_ERROR_POLICY ignore_error
#define BOOST_MATH_OVERFLOW_ERROR_POLICY ignore_error
#define BOOST_MATH_EVALUATION_ERROR_POLICY ignore_error

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/non_central_chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
