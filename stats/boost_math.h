// Boost.Math, set up once for the whole project (stats/ and sim/ include it from here): its
// functions return NaN or ±inf instead of throwing on a domain error or overflow, so no exception
// leaves stats/ (callers check the inputs and report a Reason). Every stats .cc includes Boost.Math
// through here, so that all of them use the same policy.
#pragma once

#define BOOST_MATH_DOMAIN_ERROR_POLICY ignore_error
#define BOOST_MATH_POLE_ERROR_POLICY ignore_error
#define BOOST_MATH_OVERFLOW_ERROR_POLICY ignore_error
#define BOOST_MATH_EVALUATION_ERROR_POLICY ignore_error

#include <cmath>

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/non_central_chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/special_functions/gamma.hpp>

namespace abrec::stats {

// The two-sided p-value of a standard normal statistic.
inline double NormalTwoSidedP(double z) {
  namespace bm = boost::math;
  return 2 * bm::cdf(bm::complement(bm::normal_distribution<double>(), std::fabs(z)));
}

// P(X > x) for X ~ χ²(df): the p-value of Pearson's tests.
inline double ChiSquaredUpperTail(double df, double x) {
  namespace bm = boost::math;
  return bm::cdf(bm::complement(bm::chi_squared_distribution<double>(df), x));
}

// ln Γ(x) for x > 0. Boost's, not std::lgamma: glibc's lgamma writes the global `signgam`, a
// data race when reports are computed on several threads. In double, not promoted to long
// double (ten times faster; the result is rounded to double either way).
inline double LogGamma(double x) {
  namespace bp = boost::math::policies;
  return boost::math::lgamma(x, bp::policy<bp::promote_double<false>>());
}

}  // namespace abrec::stats
